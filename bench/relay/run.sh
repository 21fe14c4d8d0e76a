#!/usr/bin/env bash
# Benchmark: signaling relay, vytal-signald against a Socket.IO 4 baseline in
# alternating rounds; saturation and fixed offered rates. Prints a Markdown
# table of medians and writes it into docs/BENCHMARKS.md.
# Usage: bench/relay/run.sh [ROUNDS] [SECONDS] [CALLS]   (defaults 5 10 1000)
# Options by environment: see bench/relay/relay.mjs (RELAY_WORKERS, RELAY_SIZE,
# RELAY_WINDOW, RELAY_RATES, RELAY_SERVERS; RELAY_DOC= to skip the doc).
# Binaries: VYTAL_SIGNALD_BIN, or VYTAL_BUILD_DIR (default build/).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
[ -d node_modules/socket.io ] || { echo "run npm ci first (ws, socket.io)" >&2; exit 1; }
# 2,000+ sockets per process, several processes.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export RELAY_DOC=${RELAY_DOC-$ROOT/docs/BENCHMARKS.md}
exec node bench/relay/relay.mjs "${1:-5}" "${2:-10}" "${3:-1000}"
