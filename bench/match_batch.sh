#!/usr/bin/env bash
# `feisty match APP --batch --json` against a Werkzeug-backed batch on the same N generated request lines
# (default 100000), as whole processes in one run, and prints both wall times and their ratio (issue 11: >= 10x).
#   bench/match_batch.sh [N] [ROUNDS]
# The Werkzeug peer is the loop a Python user would write: json.loads a line, MapAdapter.match it, json.dumps the
# verdict. Each side runs ROUNDS times (default 3), alternating; the best time of each counts. FEISTY=path/to/binary
# measures another build (default: a fresh release build).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
rounds=${2:-3}
if [[ -z "${FEISTY:-}" ]]; then
    swift build -c release --product feisty >/dev/null
    FEISTY=.build/release/feisty
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$n" > "$work/requests.jsonl" <<'PY'
import json, random, sys
rng = random.Random(1)
paths = ["/", "/2024", "/user/bob", "/wp-login.php", "/.env", "/static/app.css", "/user/", "//2024", "/%32%30%32%34"]
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": i, "method": rng.choice(["GET", "POST", "HEAD"]), "path": rng.choice(paths)}))
PY
cat > "$work/werkzeug_batch.py" <<'PY'
import importlib.util, json, sys
from urllib.parse import unquote
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
adapter = module.app.url_map.bind("localhost")
out = sys.stdout
for line in sys.stdin:
    request = json.loads(line)
    path, _, query = request["path"].partition("?")
    answer = {"id": request.get("id")}
    try:
        endpoint, args = adapter.match(unquote(path), method=request["method"], query_args=query)
        answer.update(outcome="match", status=200, endpoint=endpoint, args=args)
    except RequestRedirect as e:
        answer.update(outcome="redirect", status=308, location=e.new_url)
    except MethodNotAllowed as e:
        answer.update(outcome="method_not_allowed", status=405, allowed=sorted(e.valid_methods))
    except NotFound:
        answer.update(outcome="not_found", status=404)
    out.write(json.dumps(answer) + "\n")
PY
now() { date +%s.%N; }
best_feisty=999999
best_werkzeug=999999
for round in $(seq "$rounds"); do
    t0=$(now)
    "$FEISTY" match examples/seed/app.py --batch --json < "$work/requests.jsonl" > "$work/feisty.jsonl"
    t1=$(now)
    python3 "$work/werkzeug_batch.py" examples/seed/app.py < "$work/requests.jsonl" > "$work/werkzeug.jsonl"
    t2=$(now)
    best_feisty=$(python3 -c "print(min($best_feisty, $t1 - $t0))")
    best_werkzeug=$(python3 -c "print(min($best_werkzeug, $t2 - $t1))")
done
t0=$(now); "$FEISTY" match examples/seed/app.py --batch --json < /dev/null > /dev/null; t1=$(now)
lines=$(wc -l < "$work/feisty.jsonl")
python3 - "$best_feisty" "$best_werkzeug" "$(python3 -c "print($t1 - $t0)")" "$lines" <<'PY'
import sys
feisty, werkzeug, extract, lines = map(float, sys.argv[1:])
print(f"batch: {int(lines)} lines; feisty {feisty:.3f} s wall (extraction alone {extract:.3f} s, "
      f"{(feisty - extract) / lines * 1e6:.2f} us/line after it); werkzeug batch {werkzeug:.3f} s")
print(f"RATIO feisty/werkzeug {werkzeug / feisty:.1f}x (goal >= 10x)")
PY
