#!/usr/bin/env bash
# The package as a file: built by packaging/build-deb.sh, lintian-clean, with
# what it must contain, and units that verify and score 2.0 or lower.
#
#   tests/packaging/deb_test.sh OUTDIR
#
# Leaves OUTDIR/vytalwatch-appliance_<v>_amd64.deb for install_test.sh.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { local what=$1; shift; "$@" || fail "$what"; echo "ok: $what"; }

echo "==> packaging/build-deb.sh $OUT"
"$SRC/packaging/build-deb.sh" "$OUT"
DEB=$(ls "$OUT"/vytalwatch-appliance_*_amd64.deb)

echo "==> lintian $(basename "$DEB")"
# As root lintian warns that it should not run as root; the findings are what
# count. Its exit status is 0 or 1 (findings at --fail-on's level); anything
# else (not installed, a crash) fails the test.
rc=0
report=$(lintian --pedantic --display-info --fail-on error "$DEB" 2>&1) || rc=$?
report=$(grep -v '^running with root privileges' <<<"$report" || true)
echo "${report:-"(no findings)"}"
check "lintian ran (exit status $rc)" test "$rc" -le 1
check "lintian reports no errors" bash -c '[ "$1" = 0 ] && ! grep -q "^E: " <<<"$2"' _ "$rc" "$report"
# Each warning must be in the table of packaging/README.md's "Lintian" section.
explained=$(sed -n '/^## Lintian/,/^## /p' "$SRC/packaging/README.md" | sed -n 's/^| `\([a-z0-9-]*\)`.*/\1/p')
while read -r tag; do
  [ -n "$tag" ] || continue
  check "lintian warning $tag is explained in packaging/README.md" grep -qx -- "$tag" <<<"$explained"
done < <(sed -n 's/^W: [^:]*: \([a-z0-9-]*\).*/\1/p' <<<"$report" | sort -u)

echo "==> contents"
ROOT=$OUT/contents
rm -rf "$ROOT" && dpkg-deb -x "$DEB" "$ROOT"
for f in usr/sbin/vytal-signald usr/sbin/vytal-syncd usr/sbin/vytal-turnserver usr/bin/vytalctl \
  usr/lib/vytalwatch/libvytal_turn.so etc/vytalwatch/appliance.conf etc/ufw/applications.d/vytalwatch \
  usr/share/vytalwatch/web/vytal-client.js usr/share/vytalwatch/prometheus/vytalwatch-alerts.yml \
  usr/share/vytalwatch/prometheus/vytalwatch-dashboard.json lib/systemd/system/vytal-signald.service \
  lib/systemd/system/vytal-syncd.service lib/systemd/system/vytal-turnserver.service \
  lib/systemd/system/vytal-apply.service lib/systemd/system/vytal-apply.path \
  usr/share/doc/vytalwatch-appliance/examples/vytalwatch-https.conf \
  usr/share/doc/vytalwatch-appliance/examples/vytalwatch-stream.conf \
  usr/share/doc/vytalwatch-appliance/examples/vytalwatch-deploy-hook; do
  check "the package holds /$f" test -s "$ROOT/$f"
done
check "/etc/vytalwatch/appliance.conf is a conffile" \
  bash -c 'dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./conffiles | grep -qx /etc/vytalwatch/appliance.conf' _ "$DEB"
check "the copyright file carries coturn's licence" \
  grep -q "Redistribution and use in source and binary forms" "$ROOT/usr/share/doc/vytalwatch-appliance/copyright"
check "vytal-turnserver never collides with Debian's coturn (no /usr/bin/turnserver)" test ! -e "$ROOT/usr/bin/turnserver"
check "vytal-turnserver links libsystemd (READY=1 for Type=notify)" \
  bash -c 'readelf -d "$1" | grep -q "libsystemd.so"' _ "$ROOT/usr/sbin/vytal-turnserver"
check "Depends pulls the libraries from Debian" \
  bash -c 'dpkg-deb -f "$1" Depends | grep -q "libevent-2.1-7" && dpkg-deb -f "$1" Depends | grep -q "libhttp-parser2.9"' _ "$DEB"

echo "==> systemd units"
"$SRC/packaging/check-units.sh" "$ROOT"
