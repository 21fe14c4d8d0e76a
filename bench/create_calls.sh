#!/usr/bin/env bash
# Benchmark: durable create-call throughput and latency at 64 concurrent
# keep-alive clients (wrk), group commit on versus off in the same run; the
# ICE-servers endpoint; signald's resident memory idle and under load; how
# many transactions took over 5 ms to commit (signald's own histogram: the
# stalls behind the tail of the latency), and how many of the commits'
# syncs to disk did (the disk's part of those stalls).
# Usage: bench/create_calls.sh [ROUNDS] [SECONDS]   (defaults 3 and 10)
# Prints a Markdown table of medians for docs/BENCHMARKS.md.
set -Eeuo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VYTAL_BUILD_DIR:-$ROOT/build}
ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=64
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'kill "${PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
# A failed step says where, with the ends of signald's log and wrk's output
# (once: not again from the substitution it failed in).
trap '[ "$BASHPID" = "$$" ] && { echo "create_calls.sh: line $LINENO failed; signald ${PID:+(pid $PID) }logged:" >&2
  tail -5 "$WORK/log" >&2 2>/dev/null; echo "wrk printed:" >&2; tail -3 "$WORK/wrk" >&2 2>/dev/null; } || true' ERR
export JWT_SECRET=bench-secret-0123456789abcdef0123456789
export VYTAL_BENCH_TOKEN
VYTAL_BENCH_TOKEN=$("$BUILD/vytalctl/vytalctl" dev-token --sub bench --role service --ttl 7200)

start_signald() {  # $1: group commit true|false
  rm -rf "$WORK/data" && mkdir -p "$WORK/data"
  PORT=0 VYTAL_DATA_DIR="$WORK/data" VYTAL_GROUP_COMMIT=$1 TURN_SHARED_SECRET=bench \
    WEBRTC_TURN_SERVERS=turn:127.0.0.1:3478 WEBRTC_STUN_SERVERS=stun:127.0.0.1:3478 \
    "$BUILD/signald/vytal-signald" 2>"$WORK/log" &
  PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/log" && break; sleep 0.05; done
  grep -q "listening on" "$WORK/log" || { echo "signald did not start within 5 s" >&2; return 1; }
  URL=http://127.0.0.1:$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$WORK/log" | grep -o '[0-9]*$')
}
stop_signald() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$PID/status"; }
slow_commits() {  # transactions that took over 5 ms, all of them, their syncs to disk that took over 5 ms
  curl -sf "$URL/metrics" | awk '$1 == "vytal_db_commit_seconds_bucket{le=\"0.005\"}" {fast = $2}
    $1 == "vytal_db_commit_seconds_count" {n = $2}
    $1 == "vytal_db_commit_sync_seconds_bucket{le=\"0.005\"}" {sync_fast = $2}
    $1 == "vytal_db_commit_sync_seconds_count" {syncs = $2}
    END {if (n == "") print "- - -"; else printf "%d %d %s\n", n - fast, n, syncs == "" ? "-" : syncs - sync_fast}'
}

# Runs wrk, prints "req_per_s p50_ms p99_ms non_2xx".
run_wrk() {  # $1 JSON body to POST (empty: GET), $2 path
  VYTAL_BENCH_BODY=$1 wrk -t2 -c$CONNECTIONS -d"${SECONDS_PER_RUN}s" --latency -s "$ROOT/bench/request.lua" "$URL$2" \
    >"$WORK/wrk" 2>&1
  grep -q 'Requests/sec' "$WORK/wrk" || { echo "wrk measured nothing" >&2; return 1; }
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /^status/ { split($2, s, ":"); if (s[1] !~ /^2/) bad += $3 }
    END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad + 0 }' "$WORK/wrk"
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

declare -A R
for round in $(seq "$ROUNDS"); do
  for gc in true false; do
    start_signald $gc
    idle=$(rss_kib)
    [ -n "$idle" ] || { echo "signald is gone" >&2; false; }
    read -r rps p50 p99 bad < <(run_wrk '{"patientId":"patient-uuid","providerId":"provider-uuid","type":"video"}' /webrtc/calls)
    R[create_$gc]+="$rps "; R[p50_$gc]+="$p50 "; R[p99_$gc]+="$p99 "; R[bad_$gc]+="$bad "
    R[idle_$gc]+="$idle "; R[hwm_$gc]+="$(hwm_kib) "
    read -r slow all slow_syncs < <(slow_commits)
    R[slow_$gc]+="$slow "; R[tx_$gc]+="$all "; R[slow_sync_$gc]+="$slow_syncs "
    if [ $gc = true ]; then
      read -r rps p50 p99 bad < <(run_wrk "" /webrtc/ice-servers)
      R[ice]+="$rps "; R[ice_p99]+="$p99 "; R[ice_bad]+="$bad "
    fi
    stop_signald
    echo "round $round group_commit=$gc done" >&2
  done
done

m() { tr ' ' '\n' <<<"${R[$1]}" | grep . | median; }
cat <<EOT
| measure (median of $ROUNDS runs of ${SECONDS_PER_RUN}s, $CONNECTIONS connections) | group commit on | group commit off | on/off |
| --- | --- | --- | --- |
| durable creates/s | $(m create_true) | $(m create_false) | $(awk "BEGIN {printf \"%.1fx\", $(m create_true) / $(m create_false)}") |
| create p50 latency (ms) | $(m p50_true) | $(m p50_false) | |
| create p99 latency (ms) | $(m p99_true) | $(m p99_false) | |
| non-2xx responses | $(m bad_true) | $(m bad_false) | |
| transactions / of them over 5 ms to commit | $(m tx_true) / $(m slow_true) | $(m tx_false) / $(m slow_false) | |
| of them, commits whose sync to disk took over 5 ms | $(m slow_sync_true) | $(m slow_sync_false) | |
| signald RSS idle (KiB) | $(m idle_true) | $(m idle_false) | |
| signald peak RSS under load (KiB) | $(m hwm_true) | $(m hwm_false) | |

| /webrtc/ice-servers | value |
| --- | --- |
| requests/s | $(m ice) |
| p99 latency (ms) | $(m ice_p99) |
| non-2xx responses | $(m ice_bad) |
EOT
