#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test (unit and
# integration) with CTest. Used as is by CI (.ci/run).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TEST_PACKAGES=(libgtest-dev libgmock-dev sqlite3 curl coturn clang-format git clang libclang-rt-14-dev libwslay-dev
  chromium)
command -v node >/dev/null || TEST_PACKAGES+=(nodejs)
command -v npm >/dev/null || TEST_PACKAGES+=(npm)
had_coturn=$(dpkg-query -W -f='${Status}' coturn 2>/dev/null | grep -c "install ok installed" || true)
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
# The tests start their own TURN servers on free ports; the coturn service the
# package may have just started on port 3478 is not wanted.
if [ "$had_coturn" = 0 ] && command -v systemctl >/dev/null && systemctl is-active -q coturn 2>/dev/null; then
  as_root systemctl disable --now coturn
fi

echo "==> npm ci (ws, playwright-core)"
(cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)

build
echo "==> running tests"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600 -j 2 "$@"
