# Shared by run-local.sh and test-all.sh: root detection and installing
# missing Debian packages without prompting.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${VYTAL_BUILD_DIR:-$ROOT/build}

# Packages to build the appliance.
BUILD_PACKAGES=(build-essential cmake pkg-config libevent-dev libhttp-parser-dev libjansson-dev libssl-dev
  libsqlite3-dev libpq-dev libsystemd-dev libsimdjson-dev libmicrohttpd-dev libargon2-dev libcurl4-openssl-dev)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the packages that are not installed yet; apt-get update runs only when needed.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {  # extra arguments go to cmake's configure step
  echo "==> building in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)"
}
