#!/usr/bin/env bash
# Does keeping connections alive between feisty and the internal Werkzeug server (`feisty run --http11`) pay?
# Runs `feisty run` on the bench Flask app twice (plain, then --http11), alternating for ROUNDS rounds, and prints
# req/s, p99 and CPU per request of feisty + app for each, plus the ratio. Needs wrk.
#   bench/upstream_keepalive.sh            (ROUNDS=3 DURATION=10 CONNS=10 PB_PATH=/hello/feisty)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10}; CONNS=${CONNS:-10}; PB_PATH=${PB_PATH:-/hello/feisty}
APP=${APP:-../shared/bench/app/app.py}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 2; }
swift build -c release --product feisty >/dev/null
bin=$PWD/.build/release/feisty
port=18321
# As root, feisty runs the app as root only when told to (--allow-root-app).
ROOT_APP=$([ "$(id -u)" = 0 ] && echo --allow-root-app || true)
tree_cpu() { # utime+stime ticks of PID and its descendants
    local total=0 p
    for p in $(pstree -pT "$1" 2>/dev/null | grep -o '([0-9]*)' | tr -d '()'); do
        [ -r /proc/$p/stat ] && total=$((total + $(awk '{print $14 + $15}' /proc/$p/stat)))
    done
    echo $total
}
measure() { # measure LABEL EXTRA_FLAGS...
    local label=$1; shift
    "$bin" run "$APP" --listen 127.0.0.1:$port --no-access-log $ROOT_APP "$@" >/tmp/feisty-keepalive.log 2>&1 &
    local pid=$!
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port$PB_PATH" && break; sleep 0.1; done
    wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$port$PB_PATH" >/dev/null
    local c0; c0=$(tree_cpu $pid)
    local out; out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$port$PB_PATH")
    local c1; c1=$(tree_cpu $pid)
    kill -TERM $pid; wait $pid || true
    local rps requests p99
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    local hz; hz=$(getconf CLK_TCK)
    local us; us=$(python3 -c "print(round(($c1-$c0)/$hz*1e6/max($requests,1),1))")
    echo "$label rps=$rps p99=$p99 cpu_us_per_req=$us"
}
results=()
for r in $(seq "$ROUNDS"); do
    if ((r % 2)); then results+=("$(measure close)" "$(measure keepalive --http11)")
    else results+=("$(measure keepalive --http11)" "$(measure close)"); fi
done
printf '%s\n' "${results[@]}"
python3 - "${results[@]}" <<'PY'
import statistics, sys
rows = {}
for line in sys.argv[1:]:
    label, *kv = line.split()
    rows.setdefault(label, []).append({k: float(v.rstrip("ms").rstrip("u")) if not v.endswith("ms") else float(v[:-2])
                                       for k, v in (x.split("=") for x in kv)})
med = {l: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for l, rs in rows.items()}
for l, m in med.items():
    print(f"median {l}: {m['rps']:.0f} req/s, CPU {m['cpu_us_per_req']:.0f} us/request (feisty + app)")
print(f"RATIO keepalive/close: rps={med['keepalive']['rps'] / med['close']['rps']:.3f} "
      f"cpu_per_req={med['keepalive']['cpu_us_per_req'] / med['close']['cpu_us_per_req']:.3f}")
PY
