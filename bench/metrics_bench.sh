#!/usr/bin/env bash
# bench/metrics_bench.sh -- what the metrics cost on the hot path: feisty with its metrics (the default) and with
# the hidden --no-metrics, each measured against nginx (1 worker) in front of the static upstream by the shared
# harness, the two alternating PAIRS times (order flipped every pair). Prints CPU per request and req/s per mode,
# each as a ratio to nginx measured in the same round, and the on/off ratio of those.
#
#   swift build -c release --product feisty && swift build -c release --product feisty-bench-metrics
#   bench/metrics_bench.sh
#   PAIRS=3 ROUNDS=3 DURATION=10 CONNS=50 bench/metrics_bench.sh     # the defaults
#
# FEISTY=path picks another binary. Every harness variable (PB_WAIT_BUDGET, PB_WRK_CPUS, ...) passes through.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
HARNESS=${HARNESS:-$REPO/../shared/bench}
[ -x "$HARNESS/proxy_bench.sh" ] || HARNESS=/work/shared/bench
[ -x "$HARNESS/proxy_bench.sh" ] || { echo "metrics_bench: the shared harness proxy_bench.sh is not found" >&2; exit 2; }
FEISTY=${FEISTY:-$REPO/.build/release/feisty}
[ -x "$FEISTY" ] || { echo "metrics_bench: $FEISTY missing (swift build -c release --product feisty)" >&2; exit 2; }
PAIRS=${PAIRS:-2}
export CONNS=${CONNS:-50} UPSTREAM=static ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10}
OUT=${METRICS_BENCH_OUT:-/tmp/metricsbench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
# As root, feisty imports the app (for --upstream's routes) as root only when told to (--allow-root-app).
ROOT_APP=$([ "$(id -u)" = 0 ] && echo --allow-root-app || true)
CMD="$FEISTY run $HARNESS/app/app.py --upstream 127.0.0.1:{upstream} --listen 127.0.0.1:{port} --no-access-log"
CMD="$CMD $ROOT_APP"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for pair in $(seq "$PAIRS"); do
    order="on off"
    [ $((pair % 2)) = 0 ] && order="off on"
    for mode in $order; do
        flags=""
        [ "$mode" = off ] && flags=--no-metrics
        echo "== pair $pair: metrics $mode (load average $(cut -d' ' -f1-3 /proc/loadavg))"
        PB_RUN="$OUT/$mode-$pair" PROXY_NAME="metrics-$mode" PROXY_CMD="$CMD $flags" "$HARNESS/proxy_bench.sh" \
            | grep '^RATIO' | tail -1
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" <<'PY'
import csv, glob, os, statistics, sys

out = sys.argv[1]
per_mode = {"on": {"cpu": [], "rps": [], "cpu_ratio": [], "rps_ratio": [], "foreign": []},
            "off": {"cpu": [], "rps": [], "cpu_ratio": [], "rps_ratio": [], "foreign": []}}
for path in glob.glob(os.path.join(out, "*", "results.csv")):
    mode = os.path.basename(os.path.dirname(path)).split("-")[0]
    rows = list(csv.DictReader(open(path)))
    by_round = {}
    for row in rows:
        by_round.setdefault((row["round"], row["conns"]), {})[row["label"]] = row
    for pair in by_round.values():
        tool, nginx = pair.get("metrics-" + mode), pair.get("nginx")
        if not tool or not nginx:
            continue
        cpu, rps = float(tool["target_cpu_us_per_req"]), float(tool["rps"])
        stats = per_mode[mode]
        stats["cpu"].append(cpu)
        stats["rps"].append(rps)
        stats["cpu_ratio"].append(cpu / float(nginx["target_cpu_us_per_req"]))
        stats["rps_ratio"].append(rps / float(nginx["rps"]))
        stats["foreign"].append(float(tool["foreign_cpu_cores"]))
print("| metrics | rounds | CPU us/req (median) | req/s (median) | CPU/req ÷ nginx | req/s ÷ nginx | foreign cores |")
print("|---|---|---|---|---|---|---|")
for mode, s in per_mode.items():
    if not s["cpu"]:
        continue
    med = statistics.median
    print(f"| {mode} | {len(s['cpu'])} | {med(s['cpu']):.2f} | {med(s['rps']):.0f} | {med(s['cpu_ratio']):.3f} "
          f"| {med(s['rps_ratio']):.3f} | {med(s['foreign']):.2f} |")
if per_mode["on"]["cpu"] and per_mode["off"]["cpu"]:
    med = statistics.median
    cpu = med(per_mode["on"]["cpu_ratio"]) / med(per_mode["off"]["cpu_ratio"])
    rps = med(per_mode["on"]["rps_ratio"]) / med(per_mode["off"]["rps_ratio"])
    print(f"RATIO metrics on/off (each against nginx in its round): cpu_per_req={cpu:.3f} rps={rps:.3f}")
if per_mode["on"]["cpu"]:
    open(os.path.join(out, "cpu_us_per_req"), "w").write(f"{statistics.median(per_mode['on']['cpu']):.1f}\n")
PY
# The counting alone, timed in-process against the same loop without it: wrk on this 2-core box cannot resolve 2%.
BENCH_METRICS=${BENCH_METRICS:-$REPO/.build/release/feisty-bench-metrics}
if [ -x "$BENCH_METRICS" ]; then
    echo "== the per-request counting alone ($BENCH_METRICS)"
    "$BENCH_METRICS" 5000000 "$(cat "$OUT/cpu_us_per_req" 2>/dev/null || echo 40)"
else
    echo "(swift build -c release --product feisty-bench-metrics for the in-process figure)"
fi
