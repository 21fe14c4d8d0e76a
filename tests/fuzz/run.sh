#!/usr/bin/env bash
# Builds the fuzz targets with clang and runs the WebSocket differential
# fuzzer: first over the checked-in corpus, then for a bounded time.
# Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$1
SECONDS_TO_RUN=${2:-30}
CXX=clang++ cmake -S "$HERE" -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp "$HERE"/corpus/ws_codec/* "$WORK"/
# Bounded: -max_total_time stops it; new inputs stay in $WORK (not the tree).
"$BUILD/ws_codec_fuzz" -max_total_time="$SECONDS_TO_RUN" -max_len=2048 -print_final_stats=1 \
  -artifact_prefix="$BUILD/" \
  -dict="$HERE/ws_codec.dict" "$WORK" 2>&1 | tail -n 12
