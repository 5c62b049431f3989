#!/usr/bin/env bash
# Route matcher benchmark: Werkzeug's MapAdapter.match vs feisty's RouteMatcher on the same targets.
# Usage: bench/matcher_bench.sh [SECONDS]   (one core: both sides run under `taskset -c 0` when available)
# ROUNDS=N alternates Werkzeug and Swift N times (default 1) and prints each round's ratios and their median, so
# that load from other work hits both sides of a ratio alike.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-3}"
ROUNDS="${ROUNDS:-1}"
WORK="$(mktemp -d /tmp/matcher-bench.XXXXXX)"
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$WORK"' EXIT
PIN=()
if command -v taskset >/dev/null; then PIN=(taskset -c 0); fi

# BIN=path skips the SwiftPM build and runs that feisty-bench-matcher binary instead.
if [ -z "${BIN:-}" ]; then
    swift build -c release --product feisty-bench-matcher >/dev/null
    BIN="$(swift build -c release --show-bin-path)/feisty-bench-matcher"
fi

cat >"$WORK/werkzeug_side.py" <<'PY'
import importlib.util, json, random, sys, time, warnings
from pathlib import Path
from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

work, seconds = Path(sys.argv[1]), float(sys.argv[2])
spec = importlib.util.spec_from_file_location("feisty_probe", "Sources/FeistyCore/Python/feisty_probe.py")
probe = importlib.util.module_from_spec(spec); spec.loader.exec_module(probe)
probe.record_registration_order()

def seed_app():
    spec = importlib.util.spec_from_file_location("seed_app", "examples/seed/app.py")
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    return module.app

def big_app():
    app = Flask("big")
    rng = random.Random(200)
    kinds = ["<int:id>", "<name>", "<uuid:uid>", "<path:rest>", "<any(json,xml):fmt>", "<float:x>"]
    for i in range(199):  # + Flask's static rule = 200
        parts = [f"r{i % 40}", rng.choice(["items", "users", "orders", "v1", "v2"])]
        if i % 3:
            kind = rng.choice(kinds)
            parts.append(kind.replace(":", f":p{i}_") if ":" in kind else f"<p{i}>")
        if i % 5 == 0:
            parts.append("detail")
        rule = "/" + "/".join(parts) + ("/" if i % 7 == 0 else "")
        app.add_url_rule(rule, endpoint=f"e{i}", methods=rng.choice([["GET"], ["GET", "POST"], ["PUT"]]))
    return app

def targets(app, rng, n=2000):
    rules = [r.rule for r in app.url_map.iter_rules()]
    fill = {"int": "42", "default": "alice", "uuid": "4155d7ef-28dd-37eb-2adf-559a11cbc288", "path": "a/b/c",
            "any": "json", "float": "1.5"}
    out = []
    for _ in range(n):
        rule = rng.choice(rules)
        path = ""
        i = 0
        while i < len(rule):
            if rule[i] == "<":
                j = rule.index(">", i)
                conv = rule[i + 1 : j].split("(")[0].split(":")[0] if ":" in rule[i + 1 : j] else "default"
                path += fill.get(conv, "x"); i = j + 1
            else:
                path += rule[i]; i += 1
        roll = rng.random()
        if roll < 0.1: path = path + "/nope"
        elif roll < 0.15: path = path.rstrip("/") if path.endswith("/") else path
        elif roll < 0.2: path = "/missing/" + str(rng.randrange(1000))
        method = "POST" if rng.random() < 0.1 else "GET"
        out.append([method, path, "localhost"])
    return out

rng = random.Random(1)
for name, app in (("seed", seed_app()), ("rules200", big_app())):
    requests = targets(app, rng)
    (work / f"{name}.json").write_text(json.dumps(
        {"name": name, "table": probe.describe_url_map(app.url_map, app), "requests": requests}))
    adapter = app.url_map.bind("localhost", "/")
    def one_pass():
        for method, path, _ in requests:
            try:
                adapter.match(path.split("?")[0], method)
            except (HTTPException, RequestRedirect):
                pass
    one_pass()
    passes, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        one_pass(); passes += 1
    rate = passes * len(requests) / (time.perf_counter() - start)
    print(f"RESULT {name} werkzeug {int(rate)} matches/s ({len(app.url_map._rules)} rules)")
PY
# The workloads are seeded: every round writes the same ones.
for round in $(seq 1 "$ROUNDS"); do
    "${PIN[@]}" python3 "$WORK/werkzeug_side.py" "$WORK" "$SECONDS_PER_RUN" | tee "$WORK/python-$round.txt"
    for name in seed rules200; do
        "${PIN[@]}" "$BIN" "$WORK/$name.json" "$SECONDS_PER_RUN"
    done | tee "$WORK/swift-$round.txt"
    # Ratios: the Swift gate and match rates over Werkzeug's, per app, in this round.
    awk '
        $1 == "RESULT" && $3 == "werkzeug" { werkzeug[$2] = $4 }
        $1 == "RESULT" && $3 ~ /^swift-/ { swift[$2 " " $3] = $4 }
        END {
            for (key in swift) {
                split(key, parts, " ")
                printf "RATIO %s %s/werkzeug %.1fx\n", parts[1], parts[2], swift[key] / werkzeug[parts[1]]
            }
        }
    ' "$WORK/python-$round.txt" "$WORK/swift-$round.txt" | sort | tee -a "$WORK/ratios.txt"
done
if [ "$ROUNDS" -gt 1 ]; then
    # The median of each ratio over the rounds.
    sort -k2,3 -k4n "$WORK/ratios.txt" | awk '
        { key = $2 " " $3; values[key] = values[key] " " $4 + 0; count[key]++ }
        END {
            for (key in values) {
                n = split(substr(values[key], 2), sorted, " ")
                printf "MEDIAN %s %.1fx over %d rounds (%s)\n", key, sorted[int((n + 1) / 2)], n, substr(values[key], 2)
            }
        }
    ' | sort
fi
