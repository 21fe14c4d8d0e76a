#!/usr/bin/env bash
# Two checkouts of the appliance side by side, alternating rounds (A B A B):
# durable call creation (bench/create_calls.sh, group commit on) and memory per
# idle WebSocket connection (bench/ws_connections.mjs). Each checkout runs its
# own scripts against its own build/ (build it first). A checkout may also be
# an exported tree (git archive) with its commit in a file named COMMIT.
# Usage: bench/compare_builds.sh OLD_CHECKOUT NEW_CHECKOUT [ROUNDS] [SECONDS] [CONNECTIONS]
# Prints a Markdown table of medians and the ratio new/old for docs/BENCHMARKS.md.
set -euo pipefail
OLD=$(cd "$1" && pwd)
NEW=$(cd "$2" && pwd)
ROUNDS=${3:-3}
SECONDS_PER_RUN=${4:-10}
CONNECTIONS=${5:-19000}

label() { git -C "$1" rev-parse --short HEAD 2>/dev/null || cat "$1/COMMIT" 2>/dev/null || basename "$1"; }
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
declare -A R
for round in $(seq "$ROUNDS"); do
  for side in old new; do
    dir=$OLD
    [ $side = new ] && dir=$NEW
    # create_calls.sh prints "| durable creates/s | ON | OFF | x |" and "| create p99 latency (ms) | ON | ..."
    out=$(cd "$dir" && VYTAL_BUILD_DIR="$dir/build" bench/create_calls.sh 1 "$SECONDS_PER_RUN" 2>/dev/null)
    R[creates_$side]+="$(awk -F'|' '/durable creates\/s/ {gsub(/ /, "", $3); print $3}' <<<"$out") "
    R[p99_$side]+="$(awk -F'|' '/create p99 latency/ {gsub(/ /, "", $3); print $3}' <<<"$out") "
    if [ "$CONNECTIONS" -gt 0 ]; then  # 0: durable creates only
      out=$(cd "$dir" && VYTAL_BUILD_DIR="$dir/build" node bench/ws_connections.mjs "$CONNECTIONS" 4 30 2>/dev/null)
      R[bytes_$side]+="$(grep -o 'resident memory per connection\*\* | \*\*[0-9]*' <<<"$out" | grep -o '[0-9]*$') "
    fi
    echo "round $round: $side done (creates/s ${R[creates_$side]:-}; bytes ${R[bytes_$side]:-})" >&2
  done
done
m() { tr ' ' '\n' <<<"${R[$1]:-0}" | grep . | median; }
ratio() { awk "BEGIN {if ($2 > 0) printf \"%.3f\", $1 / $2; else print \"-\"}"; }
cat <<EOT
| measure (median of $ROUNDS alternating rounds) | old ($(label "$OLD")) | new ($(label "$NEW")) | new/old |
| --- | --- | --- | --- |
| durable creates/s (64 connections, ${SECONDS_PER_RUN} s, group commit on) | $(m creates_old) | $(m creates_new) | $(ratio "$(m creates_new)" "$(m creates_old)") |
| create p99 latency (ms) | $(m p99_old) | $(m p99_new) | $(ratio "$(m p99_new)" "$(m p99_old)") |
| bytes per idle authenticated WebSocket connection ($CONNECTIONS held 30 s) | $(m bytes_old) | $(m bytes_new) | $(ratio "$(m bytes_new)" "$(m bytes_old)") |

Per round (old / new): creates/s ${R[creates_old]:-}/ ${R[creates_new]:-}; bytes per connection ${R[bytes_old]:-}/ ${R[bytes_new]:-}
EOT
