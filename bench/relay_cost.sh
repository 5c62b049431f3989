#!/usr/bin/env bash
# bench/relay_cost.sh -- what `feisty run` spends per request besides the proxy: CPU of feisty's threads by kind
# (NIO event loops = the proxy; Swift concurrency and swift-subprocess threads = mostly the relay of the app's output,
# here Werkzeug's request log, one line per request), from /proc/PID/task over a wrk run against the bench app.
#   bench/relay_cost.sh [SECONDS] [CONNECTIONS]        (needs wrk; FEISTY_FLAGS passes flags to feisty run)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
conns=${2:-50}
swift build -c release --product feisty --static-swift-stdlib --scratch-path .build-static 2>&1 | tail -1
port=18432
# As root, feisty runs the app as root only when told to (--allow-root-app).
ROOT_APP=$([ "$(id -u)" = 0 ] && echo --allow-root-app || true)
.build-static/release/feisty run ../shared/bench/app/app.py --listen 127.0.0.1:$port --no-access-log $ROOT_APP \
    ${FEISTY_FLAGS:-} >/tmp/feisty-relay-cost.log 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
snapshot() { for t in /proc/$pid/task/*; do echo "$(cat "$t/comm" | tr ' ' _) $(awk '{print $14+$15}' "$t/stat")"; done; }
before=$(snapshot)
requests=$(wrk -t1 -c"$conns" -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
after=$(snapshot)
ticks=$(getconf CLK_TCK)
python3 - "$requests" "$ticks" <<PY
import sys
requests, ticks = int(sys.argv[1]), int(sys.argv[2])
def parse(text):
    totals = {}
    for line in text.strip().splitlines():
        name, value = line.rsplit(" ", 1)
        kind = "proxy (NIO event loops)" if name.startswith("NIO-") else "relay and the rest (other threads)"
        totals[kind] = totals.get(kind, 0) + int(value)
    return totals
before, after = parse("""$before"""), parse("""$after""")
print(f"{requests} requests")
for kind in sorted(after):
    used = (after[kind] - before.get(kind, 0)) / ticks
    print(f"{kind}: {used * 1e6 / requests:.1f} us/request")
PY
