#!/usr/bin/env bash
# Route fuzzing at scale, on every core (see docs/PERFORMANCE.md, "Route fuzzing"):
#  (a) invariants: seeded generated and mutated request targets (percent-escapes, invalid UTF-8, `//`, dot
#      segments, NUL, Unicode digits, very long paths) against the Werkzeug oracle's random route tables; no crash,
#      no hang (each job runs under `timeout`), and RouteInvariants on every request;
#  (b) differential: the oracle's cases, each judged by the real Werkzeug, against RouteMatcher.match and .gate.
# Usage: bench/fuzz_routes.sh [DIFF_CASES] [INVARIANT_CASES] [FIRST_SEED]
#   defaults: 1,000,000 differential cases, 10,000,000 invariant cases, seed 1000. Prints RESULT lines and the
#   totals; exits 1 when any case failed (the FAIL lines say which, with the seed to replay it).
set -euo pipefail
cd "$(dirname "$0")/.."
DIFF_CASES="${1:-1000000}"
INVARIANT_CASES="${2:-10000000}"
FIRST_SEED="${3:-1000}"
JOBS="$(nproc)"
WORK="$(mktemp -d /tmp/fuzz-routes.XXXXXX)"
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT
ORACLE=tests/differential/werkzeug_oracle.py

# FUZZ=path skips the SwiftPM build and runs that feisty-fuzz binary instead.
if [ -z "${FUZZ:-}" ]; then
    swift build -c release --product feisty-fuzz >/dev/null
    FUZZ="$(swift build -c release --show-bin-path)/feisty-fuzz"
fi
export FUZZ ORACLE WORK

# (a) One oracle run gives the tables (no requests); each job fuzzes them with its own seed.
python3 "$ORACLE" --seed "$FIRST_SEED" --rulesets 300 --requests 0 >"$WORK/tables.json"
python3 "$ORACLE" --seed "$FIRST_SEED" --rulesets 100 --requests 0 --websocket >"$WORK/tables-ws.json"
PER_JOB=$(( (INVARIANT_CASES + 2 * JOBS - 1) / (2 * JOBS) ))
for job in $(seq 1 $(( 2 * JOBS ))); do
    tables="$WORK/tables.json"; [ $(( job % 2 )) -eq 0 ] && tables="$WORK/tables-ws.json"
    echo "$tables $PER_JOB $(( FIRST_SEED + job ))"
done | xargs -P "$JOBS" -L 1 sh -c 'timeout 1800 "$FUZZ" invariants "$0" "$1" "$2" || echo "FAIL job exit $? seed $2"' \
    | tee "$WORK/invariants.txt"

# (b) Chunks of 100 rulesets x 500 requests (every fourth a WebSocket-heavy one); the oracle drops the odd
# request the dev server would refuse, so the count is what feisty-fuzz checked.
CHUNK=50000
CHUNKS=$(( (DIFF_CASES + CHUNK - 1) / CHUNK ))
for chunk in $(seq 1 "$CHUNKS"); do
    flag=""; [ $(( chunk % 4 )) -eq 0 ] && flag="--websocket"
    # No trailing blank: `xargs -L` would join the next line to this one.
    echo "$(( FIRST_SEED + chunk ))${flag:+ $flag}"
done | xargs -P "$JOBS" -L 1 sh -c '
    out="$WORK/oracle-$0.json"
    if ! python3 "$ORACLE" --seed "$0" --rulesets 100 --requests 500 $1 >"$out"; then
        echo "FAIL oracle seed $0 $1"
        exit 0
    fi
    timeout 600 "$FUZZ" diff "$out" >"$out.txt" || echo "FAIL diff seed $0 $1 exit $?"
    sed "s/^RESULT diff /RESULT diff seed $0 $1 /" "$out.txt"
    rm -f "$out" "$out.txt"' | tee "$WORK/diff.txt"

awk '
    $1 == "RESULT" && $2 == "invariants" { cases += $8; failures += $10 }
    $1 == "RESULT" && $2 == "diff" { diff += $(NF - 2); disagree += $NF }
    $1 == "FAIL" { fails += 1 }
    END {
        printf "TOTAL invariant cases %d failures %d\n", cases, failures
        printf "TOTAL differential cases %d disagreements %d\n", diff, disagree
        exit (failures + disagree + fails > 0)
    }
' "$WORK/invariants.txt" "$WORK/diff.txt"
