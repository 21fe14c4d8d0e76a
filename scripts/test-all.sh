#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test (unit and
# integration) with CTest. Used as is by CI (.ci/run).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TEST_PACKAGES=(libgtest-dev libgmock-dev sqlite3 curl socat coturn clang-format git clang libclang-rt-14-dev libwslay-dev
  chromium postgresql-15 openssl
  # promtool, for the alert rules' tests
  prometheus
  # packaging: build, lintian, unit checks, the debootstrap install, the nginx edge
  debhelper dpkg-dev lintian systemd systemd-container debootstrap nginx-light libnginx-mod-stream
  # the clinic networks (tests/network/): namespaces' firewalls and NAT, the clinic's proxy, the browsers' CA
  nftables squid libnss3-tools)
command -v node >/dev/null || TEST_PACKAGES+=(nodejs)
command -v npm >/dev/null || TEST_PACKAGES+=(npm)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -c "install ok installed" || true; }
had_coturn=$(installed coturn)
had_postgresql=$(installed postgresql-15)
had_nginx=$(installed nginx-light)
had_prometheus=$(installed prometheus)
had_squid=$(installed squid)
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
# The tests start their own TURN, PostgreSQL, nginx and squid servers on free
# ports or in namespaces; the services these packages may have just started
# (3478, 5432, 80, 3128) are not wanted.
if command -v systemctl >/dev/null; then
  [ "$had_coturn" = 0 ] && systemctl is-active -q coturn 2>/dev/null && as_root systemctl disable --now coturn
  [ "$had_postgresql" = 0 ] && systemctl is-active -q postgresql 2>/dev/null && as_root systemctl disable --now postgresql
  [ "$had_nginx" = 0 ] && systemctl is-active -q nginx 2>/dev/null && as_root systemctl disable --now nginx
  [ "$had_prometheus" = 0 ] && systemctl is-active -q prometheus 2>/dev/null && as_root systemctl disable --now prometheus
  [ "$had_squid" = 0 ] && systemctl is-active -q squid 2>/dev/null && as_root systemctl disable --now squid
fi

echo "==> npm ci (ws, playwright-core, yaml, ajv)"
(cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)

# With the relay benchmark's load client, which integration.bench_relay runs.
build -DVYTAL_BUILD_BENCH=ON
echo "==> running tests"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j 2 "$@"
