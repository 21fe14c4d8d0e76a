#!/usr/bin/env bash
# Benchmark: signaling relay, vytal-signald against a Socket.IO 4 baseline in
# alternating rounds; saturation and fixed offered rates. Builds the C++ load
# client (bench/relay/loadgen/, only with -DVYTAL_BUILD_BENCH=ON) and signald
# if needed, runs the server on one core and the client on the other, prints
# a Markdown table of medians and writes it into docs/BENCHMARKS.md.
# Usage: bench/relay/run.sh [ROUNDS] [SECONDS] [CALLS]   (defaults 5 10 1000)
# Options by environment: see bench/relay/relay.mjs (RELAY_SIZE, RELAY_WINDOW,
# RELAY_RATES, RELAY_SERVERS, RELAY_SERVER_CPU, RELAY_CLIENT_CPU, RELAY_NICE, RELAY_RT;
# RELAY_DOC= to skip the doc). Build directory: VYTAL_BUILD_DIR (default build/).
# Root (or CAP_SYS_NICE) for the negative nice level and the real-time phases;
# RELAY_NICE= RELAY_RT= without it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
[ -d node_modules/socket.io ] || { echo "run npm ci first (ws, socket.io)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is needed (util-linux)" >&2; exit 1; }
[ -e /usr/include/wslay/wslay.h ] || { echo "libwslay-dev is needed for the load client" >&2; exit 1; }
BUILD=${VYTAL_BUILD_DIR:-$ROOT/build}
export VYTAL_BUILD_DIR=$BUILD
cmake -S "$ROOT" -B "$BUILD" -DVYTAL_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" --target vytal-signald vytal-relay-loadgen >/dev/null
# 2,000+ sockets in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export RELAY_DOC=${RELAY_DOC-$ROOT/docs/BENCHMARKS.md}
exec node bench/relay/relay.mjs "${1:-5}" "${2:-10}" "${3:-1000}"
