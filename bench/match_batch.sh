#!/usr/bin/env bash
# `feisty match APP --batch --json` against a Werkzeug-backed batch on the same N generated request lines
# (default 100000), as whole processes in one run, and prints both sides' times and their ratios (issue 11: >= 10x).
#   bench/match_batch.sh [N] [ROUNDS]
# feisty runs twice per round: `--no-cache` (it imports the app, as the first call after a change does) and with its
# route cache primed (the table reused, the app not imported: every later call while nothing it read changed).
# The Werkzeug peer is the loop a Python user would write: json.loads a line, MapAdapter.match it, json.dumps the
# verdict. Each side runs ROUNDS times (default 3), alternating, on the lines and on empty input (what loading the
# app costs); the best wall and CPU time of each counts. CPU time (user + system, children included) is the steadier
# figure on a busy machine. Exits 1 when a verdict differs from Werkzeug's. FEISTY=path/to/binary measures another
# build (default: a fresh release build).
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
python3 - "$FEISTY" "$work" "$rounds" <<'PY'
import json, os, resource, subprocess, sys, time

feisty, work, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = "examples/seed/app.py"
commands = {"feisty": [feisty, "match", app, "--batch", "--json", "--no-cache"],
            "cached": [feisty, "match", app, "--batch", "--json"],
            "werkzeug": ["python3", f"{work}/werkzeug_batch.py", app]}
os.environ["XDG_CACHE_HOME"] = f"{work}/cache"
subprocess.run(commands["cached"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)  # primes it


def timed(command, stdin, stdout):
    """Wall seconds and CPU seconds (user + system of the process and its children) of one whole run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(stdin, "rb") as source, open(stdout, "wb") as sink:
        subprocess.run(command, stdin=source, stdout=sink, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


best = {}
for _ in range(rounds):  # alternating, so both sides see the same load; the best of each counts
    for side, command in commands.items():
        for name, stdin in (("full", f"{work}/requests.jsonl"), ("empty", os.devnull)):
            wall, cpu = timed(command, stdin, f"{work}/{side}-{name}.jsonl")
            old = best.get((side, name), (float("inf"), float("inf")))
            best[side, name] = (min(old[0], wall), min(old[1], cpu))
differ = 0
for side in ("feisty", "cached"):
    with open(f"{work}/{side}-full.jsonl") as a, open(f"{work}/werkzeug-full.jsonl") as b:
        verdicts = [(json.loads(x), json.loads(y)) for x, y in zip(a, b)]
    differ += sum(x != y for x, y in verdicts)
lines = len(verdicts)
print(f"batch: {lines} lines, {rounds} rounds, best of each; verdicts differing from Werkzeug's: {differ}")
for side in commands:
    (wall, cpu), (empty_wall, empty_cpu) = best[side, "full"], best[side, "empty"]
    print(f"  {side:8} {wall:6.3f} s wall, {cpu:6.3f} s CPU; empty input {empty_wall:.3f} s wall, "
          f"{empty_cpu:.3f} s CPU; {(cpu - empty_cpu) / lines * 1e6:.2f} us CPU/line after it")
for side, what in (("feisty", "importing the app (--no-cache)"), ("cached", "route cache primed")):
    for index, label in ((0, "wall"), (1, "CPU")):
        full = best["werkzeug", "full"][index] / best[side, "full"][index]
        per_line = ((best["werkzeug", "full"][index] - best["werkzeug", "empty"][index])
                    / max(best[side, "full"][index] - best[side, "empty"][index], 1e-9))
        print(f"RATIO ({label}, {what}) werkzeug/feisty whole processes {full:.1f}x (goal >= 10x); "
              f"lines alone {per_line:.1f}x")
sys.exit(1 if differ else 0)
PY
