#!/usr/bin/env bash
# Builds the appliance's .deb with dpkg-buildpackage from this source tree:
#
#   packaging/build-deb.sh [OUTDIR]        (default: build/deb)
#
# Leaves OUTDIR/vytalwatch-appliance_<version>_amd64.deb (and no other
# version of it). The tree's files (tracked, and untracked ones git does not
# ignore, so a change can be packaged before it is committed) are copied to
# OUTDIR/tree with this folder's debian/ at its top, and
# coturn's tarball is fetched and checked there first (turn_plugin/
# build-turnserver.sh --fetch-only), so the build itself needs no network.
# VYTAL_DEB_VERSION=X builds version X: a changelog entry is added in the copy.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
OUT=$(mkdir -p "${1:-$BUILD_DIR/deb}" && cd "${1:-$BUILD_DIR/deb}" && pwd)
TREE=$OUT/tree

ensure_packages "${BUILD_PACKAGES[@]}" debhelper dpkg-dev patch

echo "==> copying the source tree to $TREE"
rm -rf "$TREE" && mkdir -p "$TREE"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat --printf '%n\0' 2>/dev/null |
    tar --null -T - -cf -) | tar -xf - -C "$TREE"
else
  tar -C "$ROOT" --exclude=./build --exclude=./node_modules --exclude=./.cache -cf - . | tar -xf - -C "$TREE"
fi
cp -a "$TREE/packaging/debian" "$TREE/debian"
# The commit the binaries report (--version, vytal_build_info): the copy is no checkout.
if commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null); then
  git -C "$ROOT" diff --quiet HEAD -- || commit=$commit-dirty
  echo "$commit" >"$TREE/BUILD_COMMIT"
fi

if [ -n "${VYTAL_DEB_VERSION:-}" ]; then
  { echo "vytalwatch-appliance ($VYTAL_DEB_VERSION) bookworm; urgency=medium"
    echo
    echo "  * Rebuilt as $VYTAL_DEB_VERSION (packaging/build-deb.sh)."
    echo
    echo " -- VytalWatch Appliance Team <appliance@vytalwatch.org>  $(date -R)"
    echo
    cat "$TREE/debian/changelog"; } >"$TREE/debian/changelog.new"
  mv "$TREE/debian/changelog.new" "$TREE/debian/changelog"
fi
VERSION=$(cd "$TREE" && dpkg-parsechangelog -S Version)

echo "==> coturn source (verified)"
mkdir -p "$OUT/coturn"
for cached in "$BUILD_DIR/turn/coturn_4.6.1.orig.tar.gz" "$OUT/coturn/coturn_4.6.1.orig.tar.gz"; do
  [ -f "$cached" ] && [ ! -f "$OUT/coturn/coturn_4.6.1.orig.tar.gz" ] && cp "$cached" "$OUT/coturn/"
done
"$ROOT/turn_plugin/build-turnserver.sh" --fetch-only "$OUT/coturn"
mkdir -p "$TREE/debian/coturn-build"
cp "$OUT/coturn/coturn_4.6.1.orig.tar.gz" "$TREE/debian/coturn-build/"

echo "==> dpkg-buildpackage ($VERSION)"
rm -f "$OUT"/vytalwatch-appliance_*.deb "$OUT"/vytalwatch-appliance-dbgsym_*.deb
if ! (cd "$TREE" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed; the whole log is $OUT/build.log" >&2
  exit 1
fi
DEB=$(ls "$OUT"/vytalwatch-appliance_"$VERSION"_*.deb)
echo "build-deb: $DEB"
