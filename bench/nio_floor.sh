#!/usr/bin/env bash
# bench/nio_floor.sh -- the floor under feisty's proxy: a NIO byte relay with no HTTP at all (bench/nio-relay, the
# connect-proxy GlueHandler pattern, one app connection per client connection) against nginx (1 worker) in front of
# the same static upstream, with the shared harness. What feisty costs above this relay is its HTTP layer.
#
#   bench/nio_floor.sh               # 2 event loops (feisty's default on this machine)
#   RELAY_THREADS=1 bench/nio_floor.sh
#
# Needs what bench/proxy_bench.sh needs (wrk, nginx, curl). Every harness variable passes through.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
HARNESS=${HARNESS:-$REPO/../shared/bench}
echo "== building bench/nio-relay (release)"
(cd "$REPO/bench/nio-relay" && swift build -c release 2>&1 | tail -1)
PROXY_NAME=nio-relay UPSTREAM=static \
    PROXY_CMD="$REPO/bench/nio-relay/.build/release/nio-relay {port} {upstream} ${RELAY_THREADS:-2}" \
    "$HARNESS/proxy_bench.sh"
