#!/usr/bin/env bash
# libFuzzer on the request-target decoder and the matcher: coverage-guided inputs against RouteInvariants on the
# Werkzeug oracle's random route tables (bench/fuzz_routes.sh is the seeded, differential counterpart).
# Builds Sources/FeistyCore/Routes (no package dependencies) with Sources/FeistyFuzzing and bench/libfuzz as one
# module with `swiftc -sanitize=fuzzer,address`, outside SwiftPM (which would rebuild SwiftNIO instrumented).
# Usage: bench/libfuzz_routes.sh [SECONDS] [libFuzzer flags...]   (default 60 s; corpus in /tmp/libfuzz-routes)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-60}"
shift || true
WORK=/tmp/libfuzz-routes
mkdir -p "$WORK/corpus" "$WORK/crashes"
SOURCES=()
for file in Sources/FeistyCore/Routes/*.swift; do
    # The extractor runs Python through swift-subprocess; the fuzz target needs only the matcher.
    [ "$(basename "$file")" = RouteExtractor.swift ] || SOURCES+=("$file")
done
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name RouteFuzz \
    "${SOURCES[@]}" Sources/FeistyFuzzing/*.swift bench/libfuzz/RouteFuzzTarget.swift -o "$WORK/route-fuzz" \
    2> >(grep -v "Cannot export local symbol" >&2)
python3 tests/differential/werkzeug_oracle.py --seed 1 --rulesets 200 --requests 0 >"$WORK/tables.json"
# Seed the corpus with targets the oracle generates (table 0, GET, localhost).
if [ -z "$(ls -A "$WORK/corpus")" ]; then
    python3 tests/differential/werkzeug_oracle.py --seed 2 --rulesets 5 --requests 60 | python3 -c '
import json, sys, hashlib
for ruleset in json.load(sys.stdin)["rulesets"]:
    for case in ruleset["cases"]:
        data = bytes([ruleset["index"], 0, 0]) + case["target"].encode()
        open(sys.argv[1] + "/" + hashlib.sha1(data).hexdigest(), "wb").write(data)
' "$WORK/corpus"
fi
# Foundation keeps the ICU regexes of the custom-converter parts (made once, in LLVMFuzzerInitialize) where
# LeakSanitizer cannot see them: suppressed, so that only a leak made while matching fails the run.
echo "leak:_CFRegularExpressionCreate" >"$WORK/lsan.supp"
LSAN_OPTIONS="suppressions=$WORK/lsan.supp" FEISTY_FUZZ_TABLES="$WORK/tables.json" "$WORK/route-fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 \
    -timeout=5 -artifact_prefix="$WORK/crashes/" -print_final_stats=1 "$@" "$WORK/corpus" 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|Done|stat::number_of_executed_units|stat::peak_rss|==|SUMMARY|invariant broken|.*ERROR)" || true
ls "$WORK/crashes"
