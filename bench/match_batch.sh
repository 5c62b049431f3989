#!/usr/bin/env bash
# Times `feisty match APP --batch --json` on N generated requests (default 10000) against the seed app and prints
# the wall time, the time spent on extraction alone (an empty batch), and lines per second of matching.
#   bench/match_batch.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
swift build -c release --product feisty >/dev/null
bin=.build/release/feisty
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$n" > "$work/requests.jsonl" <<'PY'
import json, random, sys
rng = random.Random(1)
paths = ["/", "/2024", "/user/bob", "/wp-login.php", "/.env", "/static/app.css", "/user/", "//2024", "/%32%30%32%34"]
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": i, "method": rng.choice(["GET", "POST", "HEAD"]), "path": rng.choice(paths)}))
PY
now() { date +%s.%N; }
t0=$(now); $bin match examples/seed/app.py --batch --json < /dev/null > /dev/null; t1=$(now)
$bin match examples/seed/app.py --batch --json < "$work/requests.jsonl" > "$work/out.jsonl"; t2=$(now)
lines=$(wc -l < "$work/out.jsonl")
python3 - "$t0" "$t1" "$t2" "$lines" <<'PY'
import sys
t0, t1, t2, lines = map(float, sys.argv[1:])
extract, total = t1 - t0, t2 - t1
print(f"batch: {int(lines)} lines in {total:.3f} s wall (extraction alone {extract:.3f} s); "
      f"matching and I/O {lines / max(total - extract, 1e-9):,.0f} lines/s")
PY
