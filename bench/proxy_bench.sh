#!/usr/bin/env bash
# bench/proxy_bench.sh -- feisty's proxy against nginx (1 worker) in front of the same upstream, and in front of
# the Flask dev server against the dev server alone. Prints req/s, p50, p99, CPU/request, RSS and the ratios.
#
#   bench/proxy_bench.sh            # all three parts (about 10 minutes on a quiet 2-core machine)
#   PART=static bench/proxy_bench.sh   # only feisty vs nginx, UPSTREAM=static (c=50 and c=1)
#   PART=flask  bench/proxy_bench.sh   # only feisty --upstream (TCP) in front of the Flask dev server against the
#                                      # dev server alone (DIRECT=1, UPSTREAM=flask)
#   PART=launch bench/proxy_bench.sh   # `feisty run app.py` (feisty starts its own copy of the app, on a private
#                                      # Unix socket) against `python3 app.py` (DIRECT=1); FEISTY_FLAGS=--http11
#                                      # for app keep-alive, FEISTY_FLAGS="--internal tcp" for a loopback port
#
# Needs: swift (release build of feisty), wrk, nginx, curl, python3 with Flask -- on Debian:
#   apt-get install -y wrk nginx curl
# Wraps ../shared/bench/proxy_bench.sh (the shared harness beside the repo); every harness variable (ROUNDS,
# DURATION, CONNS, PB_WRK_CPUS, PB_SERVER_CPUS, ...) passes through. The route table is extracted from
# ../shared/bench/app/app.py (its routes include `/`, the benchmarked path), so the gate runs on every request.
# The access log is off (--no-access-log), as it is for the reference nginx (access_log off).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
HARNESS=${HARNESS:-$REPO/../shared/bench}
[ -x "$HARNESS/proxy_bench.sh" ] || { echo "proxy_bench: $HARNESS/proxy_bench.sh not found" >&2; exit 2; }
for tool in wrk nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "proxy_bench: $tool is required (apt-get install -y wrk nginx curl)" >&2; exit 2; }
done
PART=${PART:-all}
FEISTY_FLAGS=${FEISTY_FLAGS:-}
# As root, feisty imports the app (for --upstream's routes) as root only when told to (--allow-root-app).
ROOT_APP=$([ "$(id -u)" = 0 ] && echo --allow-root-app || true)

echo "== building feisty (release)"
# The shipping build: Swift's standard library and Foundation linked statically (FEISTY_STATIC=0: shared
# libraries). Measured here: RSS 25 MiB instead of 31 MiB, the shared libraries' resident pages being most of it.
if [ "${FEISTY_STATIC:-1}" = 1 ]; then
    (cd "$REPO" && swift build -c release --product feisty --static-swift-stdlib --scratch-path .build-static 2>&1 | tail -1)
    FEISTY=$REPO/.build-static/release/feisty
else
    (cd "$REPO" && swift build -c release --product feisty 2>&1 | tail -1)
    FEISTY=$REPO/.build/release/feisty
fi
APP=$HARNESS/app/app.py
# A state directory of the bench's own: as root the default is /var/lib/feisty, which a bench must not leave behind.
STATE=$(mktemp -d)
trap 'rm -rf "$STATE"' EXIT
FLAGS="--no-access-log --state-dir $STATE $ROOT_APP $FEISTY_FLAGS"
CMD="$FEISTY run $APP --upstream 127.0.0.1:{upstream} --listen 127.0.0.1:{port} $FLAGS"

if [ "$PART" = all ] || [ "$PART" = static ]; then
    echo "== feisty vs nginx (1 worker), UPSTREAM=static"
    PROXY_NAME=feisty UPSTREAM=static PROXY_CMD="$CMD" "$HARNESS/proxy_bench.sh"
fi
if [ "$PART" = all ] || [ "$PART" = flask ]; then
    echo "== feisty in front of the Flask dev server vs the dev server alone (DIRECT=1, UPSTREAM=flask)"
    PROXY_NAME=feisty UPSTREAM=flask DIRECT=1 PROXY_CMD="$CMD" "$HARNESS/proxy_bench.sh"
fi
if [ "$PART" = all ] || [ "$PART" = launch ]; then
    # The user's view: `feisty run app.py` instead of `python3 app.py`. feisty launches its own copy of the app
    # (its app.run port is redirected to an internal one, so it does not collide with the harness's direct copy);
    # the CPU per request counted for feisty includes that Python process.
    echo "== feisty run app.py vs python3 app.py (DIRECT=1, UPSTREAM=flask) $FEISTY_FLAGS"
    PROXY_NAME=feisty-run UPSTREAM=flask DIRECT=1 \
        PROXY_CMD="$FEISTY run $APP --listen 127.0.0.1:{port} $FLAGS" \
        "$HARNESS/proxy_bench.sh"
fi
