#!/usr/bin/env bash
# The appliance built with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DVYTAL_SANITIZE=address,undefined: everything, daemons and tests) in its
# own build directory, and its unit and integration tests run there. It is
# the fuzz targets' build too (clang, -DVYTAL_FUZZ=ON, configured by
# tests/fuzz/run.sh): one sanitized build serves both. A
# sanitizer finding ends the process with a report on stderr, so the test
# that ran it fails.
#
# Usage: tests/sanitize/run.sh BUILD_DIR build|unit|integration
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$1
# Leaks are reported when a process ends; UBSan stops at its first finding
# (-fno-sanitize-recover) with a stack trace.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

case $2 in
  build)
    "$ROOT/tests/fuzz/run.sh" "$BUILD" --build
    cmake --build "$BUILD" -j "$(nproc)" >/dev/null
    ;;
  unit)
    # Every GoogleTest case in one process (the sanitizers' start-up, paid
    # once rather than per case: seconds instead of minutes); leaks are
    # checked when it ends.
    exec env VYTAL_SOURCE_DIR="$ROOT" "$BUILD/tests/unit/unit_tests"
    ;;
  integration)
    # Not the tests labelled turn, which run vytal-turnserver (the sanitized
    # plugin cannot load into it), the browser one, nor slow_clients (its latency
    # bounds are the release build's). The daemons' reports go to files (a
    # test may not look at a child's stderr, or may kill it): any report
    # fails this run, shown in full.
    reports=$BUILD/sanitizer-reports
    rm -rf "$reports" && mkdir -p "$reports"
    export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports/asan"
    export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports/ubsan"
    status=0
    ctest --test-dir "$BUILD" -L integration -LE turn -E 'browser|slow_clients' --output-on-failure -j 2 || status=$?
    if [ -n "$(ls -A "$reports")" ]; then
      for f in "$reports"/*; do echo "==> $f" && cat "$f"; done
      echo "sanitizer reports from the daemons (above)" >&2
      status=1
    fi
    exit $status
    ;;
  *)
    echo "usage: $0 BUILD_DIR build|unit|integration" >&2
    exit 2
    ;;
esac
