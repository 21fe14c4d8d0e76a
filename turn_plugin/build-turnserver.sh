#!/usr/bin/env bash
# Builds vytal-turnserver: coturn 4.6.1 from Debian's source package, checked
# against the SHA-256 in coturn-source.sha256, with turn_plugin/patches/
# applied in order. Nothing of coturn is kept in the repository.
#
# Usage: turn_plugin/build-turnserver.sh [--fetch-only] BUILD_DIR
# Leaves BUILD_DIR/bin/vytal-turnserver and BUILD_DIR/bin/turnutils_*, and
# does nothing more when they were built from the same inputs (the tarball's
# checksum, the patches, the plugin header, this script and CFLAGS).
# --fetch-only stops once the verified tarball is in BUILD_DIR (the package
# build fetches first, then builds offline inside dpkg-buildpackage).
#
# The source comes through apt-get with a private configuration: deb-src
# entries made from this machine's own Debian sources, lists and cache inside
# BUILD_DIR, so the machine's apt setup is not touched.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
FETCH_ONLY=0
[ "${1:-}" = --fetch-only ] && { FETCH_ONLY=1; shift; }
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
VERSION=4.6.1
TARBALL=coturn_${VERSION}.orig.tar.gz
APT=$OUT/apt

if ! (cd "$OUT" && sha256sum --quiet -c "$HERE/coturn-source.sha256" >/dev/null 2>&1); then
  rm -rf "$APT" && mkdir -p "$APT/sources.list.d" "$APT/lists/partial" "$APT/cache/archives/partial"
  # deb822 sources (Debian 12's default) and one-line sources, turned into deb-src.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] && grep -q '^Types:.*\bdeb\b' "$f" && sed -e 's/^Types:.*/Types: deb-src/' "$f" >"$APT/sources.list.d/$(basename "$f")"
  done
  if [ -s /etc/apt/sources.list ]; then
    grep -E '^deb ' /etc/apt/sources.list | sed -e 's/^deb /deb-src /' >"$APT/sources.list.d/from-sources-list.list" || true
  fi
  opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$APT/sources.list.d"
        -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "APT::Sandbox::User=root" -qq)
  apt-get "${opts[@]}" update
  (cd "$OUT" && apt-get "${opts[@]}" source --tar-only "coturn=$VERSION-1")
  (cd "$OUT" && sha256sum --quiet -c "$HERE/coturn-source.sha256") || {
    echo "build-turnserver: $TARBALL does not match coturn-source.sha256; refusing to build it" >&2
    exit 1
  }
fi
[ "$FETCH_ONLY" = 1 ] && { echo "build-turnserver: $OUT/$TARBALL verified"; exit 0; }

# Without SCTP listeners: no browser speaks TURN over SCTP, and on kernels
# without the sctp module (the usual case) every listener printed
# "socket: Protocol not supported" at start.
export CFLAGS="${CFLAGS:-} -DTURN_NO_SCTP"
INPUTS=$( (cat "$HERE/coturn-source.sha256" "$HERE"/patches/*.patch "$HERE/vytal_turn_plugin.h" "$0"; echo "$CFLAGS") |
  sha256sum | cut -d' ' -f1)
if [ -x "$OUT/bin/vytal-turnserver" ] && [ "$(cat "$OUT/bin/inputs.sha256" 2>/dev/null)" = "$INPUTS" ]; then
  echo "build-turnserver: $OUT/bin/vytal-turnserver is up to date"
  exit 0
fi

SRC=$OUT/coturn-$VERSION
rm -rf "$SRC" && tar -xzf "$OUT/$TARBALL" -C "$OUT"
for p in "$HERE"/patches/*.patch; do
  [ -e "$p" ] || continue
  patch -d "$SRC" -p1 --quiet --forward <"$p" || { echo "build-turnserver: $(basename "$p") does not apply" >&2; exit 1; }
done
# The ABI header travels inside patch 0003; it must be the one in this folder.
cmp -s "$HERE/vytal_turn_plugin.h" "$SRC/src/apps/relay/vytal_turn_plugin.h" ||
  { echo "build-turnserver: patches/0003 carries an old vytal_turn_plugin.h; regenerate it" >&2; exit 1; }
cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$OUT/cmake.log" 2>&1 ||
  { tail -20 "$OUT/cmake.log" >&2; exit 1; }
cmake --build "$SRC/build" -j "$(nproc)" >"$OUT/make.log" 2>&1 || { grep -E 'error|Error' "$OUT/make.log" | head -20 >&2; exit 1; }
mkdir -p "$OUT/bin"
rm -f "$OUT/bin/inputs.sha256"
# Copied, then renamed over the old ones: a server still running the old
# binary keeps it (a copy onto it would fail with "Text file busy").
for f in "$SRC/build/src/apps/relay/turnserver" "$SRC"/build/src/apps/*/turnutils_*; do
  [ -f "$f" ] && [ -x "$f" ] || continue
  name=$(basename "$f")
  [ "$name" = turnserver ] && name=vytal-turnserver
  cp "$f" "$OUT/bin/.$name.new" && mv -f "$OUT/bin/.$name.new" "$OUT/bin/$name"
done
echo "$INPUTS" >"$OUT/bin/inputs.sha256"
echo "build-turnserver: $OUT/bin/vytal-turnserver"
