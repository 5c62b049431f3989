#!/usr/bin/env bash
# bench/guard_bench.sh -- the guard's costs, beside nginx where nginx has a peer, in one run (about 3 minutes, once
# the million-ban file is cached; writing it the first time takes minutes more):
#   refuse   banned connections turned away per second: feisty (RST at accept, also with --threads 1;
#            --ban-response 403) against nginx (`return 444` via geo, stream `deny`, http `deny` -> 403), the same
#            connect flood from the banned source address 127.0.0.5 (bench/guard_flood.c); goal: at least nginx's rate
#   million  1,000,000 bans in bans.sqlite: feisty's RSS and start time against 1 ban, the refusal rate with them,
#            and the BanList build time and ns per lookup (feisty-bench-bans)
#   strike   feisty's CPU per request: declared requests; undeclared distinct paths from one client with strikes
#            (--max-strikes 1000000: nobody is banned) against the same load under --no-guard (the pre-guard 404)
# Prints tables and RATIO lines. Definitions: bench/guard_bench.py.
#
#   bench/guard_bench.sh                                  # builds feisty and feisty-bench-bans (release)
#   FEISTY_BIN=.build/release/feisty bench/guard_bench.sh # existing binaries (feisty-bench-bans beside it), no build
#   PARTS=refuse bench/guard_bench.sh                     # only some parts (refuse,million,strike)
#   ROUNDS=3 SECONDS_EACH=10 THREADS=8 bench/guard_bench.sh
#   KEEP_RUN=1 bench/guard_bench.sh                       # keep the run directory (logs, nginx.conf, state dirs)
#
# Other knobs: BANS (1000000), LOOKUPS (10000000), BANS_CACHE (/tmp/guard-bench-bans: the million-ban file, written
# once in minutes, then reused), WRK_SECONDS (5), WRK_CONNS (10), GUARD_BENCH_TIMEOUT (seconds).
# Needs nginx (its stream module, libnginx-mod-stream, for the L4 peer; skipped without it), wrk, cc, python3.
# Everything on 127.0.0.1; every process is started in its own session and recorded in RUN/pids; the EXIT trap
# stops the driver and kills whatever is left of the recorded process groups, by PID.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
for tool in nginx wrk cc "$PYTHON"; do
    command -v "$tool" >/dev/null ||
        { echo "guard_bench: $tool is required (apt-get install -y nginx wrk gcc)" >&2; exit 2; }
done

if [ -n "${FEISTY_BIN:-}" ]; then
    FEISTY=$FEISTY_BIN
else
    echo "== building feisty and feisty-bench-bans (release)" >&2
    (cd "$REPO" && swift build -c release --product feisty 2>&1 | tail -1 &&
        swift build -c release --product feisty-bench-bans 2>&1 | tail -1) >&2
    FEISTY=$REPO/.build/release/feisty
fi
BENCH_BANS=${BENCH_BANS_BIN:-$(dirname "$FEISTY")/feisty-bench-bans}
[ -x "$FEISTY" ] || { echo "guard_bench: no feisty binary at $FEISTY" >&2; exit 2; }
[ -x "$BENCH_BANS" ] || { echo "guard_bench: no feisty-bench-bans at $BENCH_BANS" >&2; exit 2; }
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] || COMMIT="$COMMIT+dirty"

ROUNDS=${ROUNDS:-2}
LIMIT=${GUARD_BENCH_TIMEOUT:-900}
RUN=$(mktemp -d /tmp/guard-bench.XXXXXX)
chmod 755 "$RUN"   # nginx's worker (user nobody) reads www/ and writes its temp files below it
DRIVER=""
cc -O2 -pthread -o "$RUN/guard_flood" "$REPO/bench/guard_flood.c"

BENCH_NAME=guard_bench
# shellcheck source=bench/run_cleanup.sh
source "$REPO/bench/run_cleanup.sh"

timeout --signal=TERM --kill-after=10 "$LIMIT" \
    "$PYTHON" "$REPO/bench/guard_bench.py" --feisty "$FEISTY" --bench-bans "$BENCH_BANS" --flood "$RUN/guard_flood" \
    --run-dir "$RUN" --commit "$COMMIT" --parts "${PARTS:-refuse,million,strike}" --rounds "$ROUNDS" \
    --seconds "${SECONDS_EACH:-5}" --threads "${THREADS:-8}" --bans "${BANS:-1000000}" \
    --lookups "${LOOKUPS:-10000000}" --bans-cache "${BANS_CACHE:-/tmp/guard-bench-bans}" \
    --wrk-seconds "${WRK_SECONDS:-5}" --wrk-conns "${WRK_CONNS:-10}" &
DRIVER=$!
set +e
wait "$DRIVER"
rc=$?
DRIVER=""
set -e
exit "$rc"
