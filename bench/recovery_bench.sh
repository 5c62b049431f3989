#!/usr/bin/env bash
# bench/recovery_bench.sh -- how fast and how cleanly `feisty run` heals a failing Flask app, beside the research
# post's prototype (`while true; do python3 app.py; done`, no proxy) measured in the same run. Prints one table:
#
#   crash -> first 2xx          goal < 1 s (< 20 ms with --standby); prototype: the app's own restart time
#   failed requests per crash   goal 0; prototype: every request while nothing listens (refused connections)
#   hang detection              goal <= hang-timeout + 1 s; prototype: never (a blind kill after 300 s of uptime)
#   failed requests per swap    (--max-requests) and per deploy (SIGHUP; prototype: a restart), goal 0
#
#   bench/recovery_bench.sh                           # builds feisty (release, static stdlib), about 1.5 minutes
#   FEISTY_BIN=.build/debug/feisty bench/recovery_bench.sh     # an existing binary, no build
#   CRASHES=5 DEPLOYS=5 bench/recovery_bench.sh       # more repetitions (medians / per-event averages)
#
# The load is 4 client threads (one requests.Session each) of GET / against examples/faults/app.py (a copy in a
# temporary directory); see bench/recovery_bench.py for the exact definitions. Only 127.0.0.1, every wait bounded.
# A scenario whose flag the binary does not know yet is printed as n/a with a note. Needs python3 with Flask and
# requests (requirements-test.txt).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import flask, requests' 2>/dev/null ||
    { echo "recovery_bench: $PYTHON needs flask and requests" >&2; exit 2; }

if [ -n "${FEISTY_BIN:-}" ]; then
    FEISTY=$FEISTY_BIN
else
    echo "== building feisty (release, --static-swift-stdlib)" >&2
    # The shipping build, in its own scratch directory (as bench/proxy_bench.sh): .build stays untouched.
    (cd "$REPO" && swift build -c release --product feisty --static-swift-stdlib --scratch-path .build-static 2>&1 |
        tail -1) >&2
    FEISTY=$REPO/.build-static/release/feisty
fi
[ -x "$FEISTY" ] || { echo "recovery_bench: no feisty binary at $FEISTY" >&2; exit 2; }

# Hard bound on the measuring part: a hung scenario cannot keep the machine busy.
exec timeout --signal=TERM --kill-after=10 "${RECOVERY_BENCH_TIMEOUT:-240}" \
    "$PYTHON" "$REPO/bench/recovery_bench.py" --feisty "$FEISTY" --python "$(command -v "$PYTHON")" \
    --crashes "${CRASHES:-3}" --hangs "${HANGS:-2}" --deploys "${DEPLOYS:-3}" \
    --swap-requests "${SWAP_REQUESTS:-1000}" --hang-timeout "${HANG_TIMEOUT:-2}" --max-requests "${MAX_REQUESTS:-50}"
