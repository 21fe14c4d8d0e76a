#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, ASan and UBSan (the appliance's own
# CMake with -DVYTAL_FUZZ=ON, in its own build directory, which
# tests/sanitize/run.sh also builds whole for the sanitized test runs) and runs them, each
# for a bounded time over a copy of its checked-in corpus, with its
# dictionary. New inputs stay in a temporary directory (not the tree); a
# crashing input is left in BUILD_DIR/artifacts/.
#
# Usage: tests/fuzz/run.sh BUILD_DIR --build          (build only)
#        tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...] (run; all targets when none named)
# For a longer run (docs/RELIABILITY.md): FUZZ_RUNS=N stops after N inputs
# (or SECONDS, whichever comes first); FUZZ_CORPUS=DIR keeps the corpus
# there, DIR/<name>/, seeded from the checked-in one.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$1
shift
# Every tests/fuzz/<name>_fuzz.cc is a target, with corpus/<name>/ and <name>.dict.
TARGETS_ALL=()
for f in "$HERE"/*_fuzz.cc; do TARGETS_ALL+=("$(basename "$f" .cc)"); done

if [ "${1:-}" = --build ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVYTAL_FUZZ=ON -DVYTAL_SANITIZE=address,undefined >/dev/null
  cmake --build "$BUILD" --target fuzz_targets -j "$(nproc)" >/dev/null
  exit 0
fi

SECONDS_TO_RUN=${1:-30}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${TARGETS_ALL[@]}")
# Inputs longer than this are not tried: enough for every format here.
max_len() {
  case $1 in
    ws_codec_fuzz) echo 2048 ;;
    change_reader_fuzz) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

mkdir -p "$BUILD/artifacts"
status=0
for t in "${TARGETS[@]}"; do
  name=${t%_fuzz}
  [ -x "$BUILD/tests/fuzz/$t" ] || { echo "run.sh: $BUILD/tests/fuzz/$t is not built (run.sh $BUILD --build)" >&2; exit 1; }
  if [ -n "${FUZZ_CORPUS:-}" ]; then
    work=$FUZZ_CORPUS/$name
    mkdir -p "$work"
  else
    work=$(mktemp -d)
  fi
  cp -n "$HERE/corpus/$name"/* "$work"/
  log=$(mktemp)
  runs=()
  [ -n "${FUZZ_RUNS:-}" ] && runs=(-runs="$FUZZ_RUNS")
  echo "==> $t for ${SECONDS_TO_RUN}s${FUZZ_RUNS:+ or $FUZZ_RUNS inputs}"
  # -max_total_time bounds the run; a failure exits non-zero with its input in artifacts/.
  if "$BUILD/tests/fuzz/$t" -max_total_time="$SECONDS_TO_RUN" "${runs[@]}" -max_len="$(max_len "$t")" -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$name-" -dict="$HERE/$name.dict" "$work" >"$log" 2>&1; then
    grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))' "$log"
    echo "corpus: $(ls "$work" | wc -l) inputs"
  else
    status=1
    grep -v -E '^(INFO|#[0-9])' "$log" | tail -n 80
    echo "==> $t FAILED; the input is in $BUILD/artifacts/"
  fi
  rm -f "$log"
  [ -n "${FUZZ_CORPUS:-}" ] || rm -rf "$work"
done
exit $status
