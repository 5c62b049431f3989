#!/usr/bin/env bash
# Streams SIZE_MIB (default 1024) MiB up and down through `feisty run examples/rich/app.py` with curl and samples
# feisty's own RSS (not the app's) every 0.2 s. Prints throughput, the byte counts/hashes the app saw, and feisty's
# RSS before, peak during, and after. Memory "flat" means the peak stays near the idle RSS, independent of SIZE_MIB.
#   bench/stream_1g.sh [SIZE_MIB]          FEISTY_FLAGS="--internal tcp" for the loopback-port transport
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
bytes=$((size_mib * 1024 * 1024))
swift build -c release --product feisty >/dev/null
port=18431
# As root, feisty runs the app as root only when told to (--allow-root-app).
ROOT_APP=$([ "$(id -u)" = 0 ] && echo --allow-root-app || true)
.build/release/feisty run examples/rich/app.py --listen 127.0.0.1:$port --no-access-log --max-body 0 $ROOT_APP \
    ${FEISTY_FLAGS:-} \
    >/tmp/feisty-stream.log 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
idle=$(rss)
peak_file=$(mktemp)
echo "$idle" > "$peak_file"
( while kill -0 $pid 2>/dev/null; do r=$(rss); [ "$r" -gt "$(cat "$peak_file")" ] && echo "$r" > "$peak_file"; sleep 0.2; done ) &
sampler=$!
t0=$(date +%s.%N)
up=$(head -c "$bytes" /dev/zero | curl -sS -T - -H 'Content-Type: application/octet-stream' \
    -X POST "http://127.0.0.1:$port/upload")   # -T - sends chunked transfer encoding
t1=$(date +%s.%N)
down=$(curl -sS "http://127.0.0.1:$port/download/$bytes" | wc -c)
t2=$(date +%s.%N)
kill $sampler 2>/dev/null || true
after=$(rss)
expect=$(head -c "$bytes" /dev/zero | sha256sum | cut -d' ' -f1)
python3 - "$size_mib" "$t0" "$t1" "$t2" "$up" "$down" "$bytes" "$expect" "$idle" "$(cat "$peak_file")" "$after" <<'PY'
import json, sys
size, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:5])
up, down, nbytes, expect = json.loads(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
idle, peak, after = (int(x) / 1024 for x in sys.argv[9:12])
ok_up = up["size"] == nbytes and up["sha256"] == expect
print(f"upload   {size} MiB chunked: {size / (t1 - t0):7.1f} MiB/s, app saw {up['size']} bytes, sha256 {'ok' if ok_up else 'WRONG'}")
print(f"download {size} MiB: {size / (t2 - t1):7.1f} MiB/s, client got {down} bytes {'ok' if down == nbytes else 'WRONG'}")
print(f"feisty RSS: idle {idle:.1f} MiB, peak {peak:.1f} MiB, after {after:.1f} MiB")
sys.exit(0 if ok_up and down == nbytes else 1)
PY
