#!/usr/bin/env bash
# Benchmark: vytal-turnserver (plugin loaded, usage reporting on) against
# Debian's stock turnserver with the same configuration otherwise, under
# turnutils_uclient load, alternating rounds. Prints a Markdown table of
# medians and writes it into docs/BENCHMARKS.md.
# Usage: bench/turn/run.sh [ROUNDS]   (default 5)
# Needs: Debian's coturn (turnserver, turnutils_uclient), python3, valgrind
# (the instruction counts), linux-perf (system call counts; without it that
# column is empty), and
# build/turn/bin/vytal-turnserver (turn_plugin/build-turnserver.sh build/turn)
# with build/turn_plugin/libvytal_turn.so. Options: see bench/turn/turn.mjs;
# TURN_DOC= to skip the doc.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
for tool in turnserver turnutils_uclient python3 valgrind; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install coturn python3 valgrind)" >&2; exit 1; }
done
export TURN_DOC=${TURN_DOC-$ROOT/docs/BENCHMARKS.md}
exec node bench/turn/turn.mjs "${1:-5}"
