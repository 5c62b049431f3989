#!/usr/bin/env bash
# bench/shield_bench.sh -- slow-client shield: for feisty and nginx (1 worker) in front of the same gunicorn app
# (bench/shield_app.py, 2 sync workers) in one run, a good client's p99 and errors while 50 slow-body and 50
# slow-read clients attack; and gunicorn alone under the same attack (what an unprotected app gets).
# Goal: feisty's good client no worse than nginx's. Prints one table, the attackers' state, the ratio
# feisty p99 / nginx p99, errors side by side and a one-line verdict (a comparison, never an assertion on timing).
#
#   bench/shield_bench.sh                                   # builds feisty (release), about 2 minutes
#   FEISTY_BIN=.build/release/feisty bench/shield_bench.sh  # an existing binary, no build
#   DURATION=10 bench/shield_bench.sh                       # seconds the good client runs under attack (20)
#   FEISTY_FLAGS="--body-timeout 10" bench/shield_bench.sh  # extra flags for feisty (default: none, its defaults)
#   TARGETS=nginx,feisty bench/shield_bench.sh              # skip gunicorn-direct (default nginx,feisty,gunicorn)
#   KEEP_RUN=1 bench/shield_bench.sh                        # keep the run directory (logs, nginx.conf)
#
# Other knobs: BASE_DURATION (good client alone, 5 s), SETTLE (3 s), REQUEST_TIMEOUT (5 s per good request),
# SLOW_BODY / SLOW_READ (50 / 50 attackers), SHIELD_BENCH_TIMEOUT (hard bound on the whole run, seconds).
# Exact definitions (good client, attackers, errors, percentiles): bench/shield_bench.py. Only 127.0.0.1, every
# wait bounded; every process is started in its own session and recorded in RUN/pids; the EXIT trap (also on
# Ctrl-C / SIGTERM) stops the driver and then kills whatever is left of the recorded process groups, by PID.
# Needs nginx, python3 with Flask and gunicorn (apt-get install -y nginx curl; pip install gunicorn).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
command -v nginx >/dev/null || { echo "shield_bench: nginx is required (apt-get install -y nginx)" >&2; exit 2; }
"$PYTHON" -c 'import flask, gunicorn' 2>/dev/null ||
    { echo "shield_bench: $PYTHON needs flask and gunicorn (pip install gunicorn)" >&2; exit 2; }

if [ -n "${FEISTY_BIN:-}" ]; then
    FEISTY=$FEISTY_BIN
else
    echo "== building feisty (release)" >&2
    (cd "$REPO" && swift build -c release --product feisty 2>&1 | tail -1) >&2
    FEISTY=$REPO/.build/release/feisty
fi
[ -x "$FEISTY" ] || { echo "shield_bench: no feisty binary at $FEISTY" >&2; exit 2; }
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] || COMMIT="$COMMIT+dirty"

DURATION=${DURATION:-20}
BASE_DURATION=${BASE_DURATION:-5}
SETTLE=${SETTLE:-3}
TARGETS=${TARGETS:-nginx,feisty,gunicorn}
# Per target: about 4 s of starting and stopping + BASE_DURATION + SETTLE + DURATION; then a margin.
LIMIT=${SHIELD_BENCH_TIMEOUT:-$((3 * (BASE_DURATION + SETTLE + DURATION + 20) + 60))}
RUN=$(mktemp -d /tmp/shield-bench.XXXXXX)
chmod 755 "$RUN"   # nginx's worker (user nobody) writes its temp files below it
DRIVER=""

BENCH_NAME=shield_bench
# shellcheck source=bench/run_cleanup.sh
source "$REPO/bench/run_cleanup.sh"

timeout --signal=TERM --kill-after=10 "$LIMIT" \
    "$PYTHON" "$REPO/bench/shield_bench.py" --feisty "$FEISTY" --feisty-flags "${FEISTY_FLAGS:-}" \
    --feisty-commit "$COMMIT" --run-dir "$RUN" --python "$(command -v "$PYTHON")" --targets "$TARGETS" \
    --duration "$DURATION" --base-duration "$BASE_DURATION" --settle "$SETTLE" \
    --timeout "${REQUEST_TIMEOUT:-5}" --slow-body "${SLOW_BODY:-50}" --slow-read "${SLOW_READ:-50}" &
DRIVER=$!
set +e
wait "$DRIVER"
rc=$?
DRIVER=""
set -e
exit "$rc"
