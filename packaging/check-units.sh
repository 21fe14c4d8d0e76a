#!/bin/bash
# Checks the appliance's systemd units inside unpacked package contents.
#
#   packaging/check-units.sh ROOT
#
# ROOT holds the unpacked package (dpkg-deb -x vytalwatch-appliance_*.deb ROOT),
# so the units are at ROOT/lib/systemd/system/*.service and the binaries at
# ROOT/usr/sbin, ROOT/usr/bin. For every unit it:
#   1. runs systemd-analyze verify --root=ROOT (unit syntax, dependencies,
#      ExecStart binaries present and executable in ROOT); any output fails;
#   2. runs systemd-analyze security --offline=yes and fails above 2.0.
# To let verify resolve sysinit.target, network-online.target and the rest,
# the host's /lib/systemd/system entries missing from ROOT/lib/systemd/system
# are copied there first (existing files, our units included, are kept),
# and so are HOST_COMMANDS missing from ROOT.
# Exit status: 0 all good, 1 a check failed, 2 usage or environment error.
# Needs the systemd package (systemd-analyze) on the host.
set -euo pipefail

UNITS=(vytal-signald.service vytal-syncd.service vytal-turnserver.service vytal-admin.service vytal-apply.service)
MAX_EXPOSURE=2.0
HOST_UNIT_DIR=/lib/systemd/system
# Commands the units run that other packages provide (procps: /bin/kill for
# ExecReload=); verify wants them executable inside ROOT.
HOST_COMMANDS=(/bin/kill)

export SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat SYSTEMD_LOG_COLOR=0 LC_ALL=C

die() { echo "check-units: $*" >&2; exit 2; }

[ $# -eq 1 ] || die "usage: $0 ROOT   (ROOT: unpacked package contents, units in ROOT/lib/systemd/system)"
ROOT=$(cd "$1" 2>/dev/null && pwd) || die "$1: not a directory"
UNIT_DIR=$ROOT/lib/systemd/system
command -v systemd-analyze >/dev/null || die "systemd-analyze not found: install the systemd package"
[ -d "$HOST_UNIT_DIR" ] || die "$HOST_UNIT_DIR: not found on this host"
for unit in "${UNITS[@]}"; do
  [ -f "$UNIT_DIR/$unit" ] || die "$UNIT_DIR/$unit: not found"
done

# 1. The host's units (targets and what they pull in), where ROOT has none.
copied=0
for src in "$HOST_UNIT_DIR"/*; do
  dst=$UNIT_DIR/${src##*/}
  if [ ! -e "$dst" ] && [ ! -L "$dst" ]; then
    cp -a "$src" "$dst"
    copied=$((copied + 1))
  fi
done
echo "copied $copied entries of $HOST_UNIT_DIR into $UNIT_DIR"
for cmd in "${HOST_COMMANDS[@]}"; do
  if [ ! -e "$ROOT$cmd" ]; then
    [ -x "$cmd" ] || die "$cmd: not found on this host (needed by the units)"
    mkdir -p "$ROOT${cmd%/*}"
    cp -L "$cmd" "$ROOT$cmd"
    echo "copied $cmd into $ROOT (provided by another package)"
  fi
done

failed=0

# 2. systemd-analyze verify, by unit name inside ROOT.
for unit in "${UNITS[@]}"; do
  if out=$(systemd-analyze verify --root="$ROOT" "$unit" 2>&1) && [ -z "$out" ]; then
    echo "$unit verify OK"
  else
    echo "$unit verify FAILED:"
    printf '%s\n' "${out:-(no output, non-zero exit status)}" | sed 's/^/    /'
    failed=1
  fi
done

# 3. systemd-analyze security: overall exposure at most MAX_EXPOSURE.
for unit in "${UNITS[@]}"; do
  # security exits non-zero only above --threshold (default 100): not an error.
  table=$(systemd-analyze security --offline=yes --no-pager "$UNIT_DIR/$unit" 2>&1) || true
  level=$(printf '%s\n' "$table" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' | head -n 1)
  if [ -z "$level" ]; then
    echo "$unit exposure ? FAILED (no \"Overall exposure level\" in the output):"
    printf '%s\n' "$table" | sed 's/^/    /'
    failed=1
  elif awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l + 0 <= m + 0) }'; then
    echo "$unit exposure $level OK"
  else
    echo "$unit exposure $level FAILED (above $MAX_EXPOSURE):"
    printf '%s\n' "$table"
    failed=1
  fi
done

# A Type=notify unit whose binary cannot call sd_notify() never reports
# READY=1, so systemd would kill it at TimeoutStartSec.
for unit in "${UNITS[@]}"; do
  grep -qx 'Type=notify' "$UNIT_DIR/$unit" || continue
  exe=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$UNIT_DIR/$unit" | head -n 1)
  if [ -f "$ROOT$exe" ] && ! grep -qa 'sd_notify' "$ROOT$exe"; then
    echo "$unit FAILED: Type=notify but $exe does not reference sd_notify (built without libsystemd?)"
    failed=1
  fi
done

if [ "$failed" -ne 0 ]; then
  echo "check-units: FAILED"
  exit 1
fi
echo "check-units: all ${#UNITS[@]} units OK"
