#!/usr/bin/env bash
# Measures every clinic network of tests/network/ over RUNS calls each
# (default 3) for docs/NETWORKS.md; needs root and a build (VYTAL_BUILD_DIR,
# default build/; vytal-turnserver from turn_plugin/build-turnserver.sh).
#   sudo tests/network/measure.sh                 # all scenarios, 3 runs each
#   sudo RUNS=5 VYTAL_NETWORK_SCENARIOS=3,8 tests/network/measure.sh
# Prints the table for docs/NETWORKS.md; every run's details go to
# $VYTAL_BUILD_DIR/network/results.json, screenshots beside them.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export VYTAL_BUILD_DIR=${VYTAL_BUILD_DIR:-$ROOT/build}
exec node "$ROOT/tests/network/measure.mjs"
