#!/usr/bin/env bash
# Benchmark: where a durable create's CPU goes, for several signald binaries in
# alternating runs. Each run starts one signald (group commit on), loads it
# with wrk (64 keep-alive connections, 12 s of creates) and, from second 2 to
# 10, reads the CPU each of signald's threads and wrk used from /proc.
# Prints one line per run: creates/s; for each signald thread (by thread id;
# the event loop is the lowest, the commit thread the busiest of the others)
# the microseconds of CPU per create and that as a multiple of wrk's, which no
# signald build changes, so the multiple compares builds across the machine's
# drift; wrk's own; the share of both cores idle; and the writes per
# transaction over the whole run (signald's /metrics).
# Usage: bench/create_cpu.sh ROUNDS SIGNALD [SIGNALD...]
#   (a SIGNALD may be a wrapper script that execs the binary)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${VYTAL_BUILD_DIR:-$ROOT/build}
ROUNDS=${1:?rounds}
shift
[ $# -gt 0 ] || { echo "usage: $0 ROUNDS SIGNALD [SIGNALD...]" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'kill "${PID:-}" "${WRK:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export JWT_SECRET=bench-secret-0123456789abcdef0123456789
export VYTAL_BENCH_TOKEN
VYTAL_BENCH_TOKEN=$("$BUILD/vytalctl/vytalctl" dev-token --sub bench --role service --ttl 7200)

snapshot() {  # per thread "tid utime+stime", wrk's, then the machine's cpu line
  for t in /proc/"$PID"/task/*; do echo "$(basename "$t") $(($(cut -d' ' -f14 "$t/stat") + $(cut -d' ' -f15 "$t/stat")))"; done
  echo "wrk $(($(cut -d' ' -f14 /proc/"$WRK"/stat) + $(cut -d' ' -f15 /proc/"$WRK"/stat)))"
  head -1 /proc/stat
}

run_one() {  # $1 signald
  rm -rf "$WORK/data" && mkdir -p "$WORK/data"
  PORT=0 VYTAL_DATA_DIR="$WORK/data" VYTAL_GROUP_COMMIT=true TURN_SHARED_SECRET=bench \
    WEBRTC_TURN_SERVERS=turn:127.0.0.1:3478 WEBRTC_STUN_SERVERS=stun:127.0.0.1:3478 "$1" 2>"$WORK/log" &
  PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/log" && break; sleep 0.05; done
  local url
  url=http://127.0.0.1:$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$WORK/log" | grep -o '[0-9]*$')
  VYTAL_BENCH_BODY='{"patientId":"patient-uuid","providerId":"provider-uuid","type":"video"}' \
    wrk -t2 -c64 -d12s -s "$ROOT/bench/request.lua" "$url/webrtc/calls" >"$WORK/wrk" 2>&1 &
  WRK=$!
  sleep 2
  snapshot >"$WORK/cpu0"
  sleep 8
  snapshot >"$WORK/cpu1"
  wait "$WRK"
  WRK=
  local per_tx
  per_tx=$(curl -sf "$url/metrics" | awk '$1 == "vytal_db_writes_total" {w = $2} $1 == "vytal_db_transactions_total" {t = $2}
    END {printf "%.1f", t ? w / t : 0}')
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
  local rps
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk")
  # /proc times are in ticks of 1/100 s: µs per create = ticks * 10000 / creates.
  paste "$WORK/cpu0" "$WORK/cpu1" | awk -v rps="$rps" -v per_tx="$per_tx" -v name="$(basename "$1")" '
    $1 == "cpu" { t0 = 0; t1 = 0; for (i = 2; i <= 11; i++) t0 += $i; for (i = 13; i <= 22; i++) t1 += $i
                  idle = 100 * (($16 + $17) - ($5 + $6)) / (t1 - t0); next }
    { us[$1] = ($4 - $2) * 10000 / (rps * 8); order[++n] = $1 }
    END {
      printf "%s creates/s %.0f writes/transaction %s", name, rps, per_tx
      for (i = 1; i <= n; i++) if (order[i] != "wrk" && us[order[i]] >= 0.5) printf "  %s %.1fus (%.2f x wrk)", order[i], us[order[i]], us[order[i]] / us["wrk"]
      printf "  wrk %.1fus  idle %.0f%%\n", us["wrk"], idle
    }'
}

for _ in $(seq "$ROUNDS"); do
  for s in "$@"; do run_one "$s"; done
done
