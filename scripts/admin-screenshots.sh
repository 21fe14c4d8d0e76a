#!/usr/bin/env bash
# Refreshes docs/admin/*.png, the screenshots docs/ADMIN.md shows: builds,
# then runs the admin page's browser tests (tests/integration/admin_ui.test.mjs and
# turn_admin_controls.test.mjs:
# real signald, vytal-admin and Chromium at 1280x800, and a phone-sized
# screen), which writes one screenshot per page into docs/admin/, and the
# live calls test (tests/integration/turn_admin_live.test.mjs).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_packages "${BUILD_PACKAGES[@]}" chromium sqlite3 socat openssl
(cd "$ROOT" && [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error)
build
mkdir -p "$ROOT/docs/admin"
VYTAL_BUILD_DIR="$BUILD_DIR" VYTAL_ADMIN_SCREENSHOTS="$ROOT/docs/admin" \
  node --test --test-reporter=spec "$ROOT/tests/integration/admin_ui.test.mjs"
# The live calls page needs vytal-turnserver (built once into $BUILD_DIR/turn).
[ -x "$BUILD_DIR/turn/bin/vytal-turnserver" ] || "$ROOT/turn_plugin/build-turnserver.sh" "$BUILD_DIR/turn"
VYTAL_BUILD_DIR="$BUILD_DIR" VYTAL_ADMIN_SCREENSHOTS="$ROOT/docs/admin" \
  node --test --test-reporter=spec "$ROOT/tests/integration/turn_admin_live.test.mjs"
# The TURN controls and settings pages (needs vytal-turnserver: turn_plugin/build-turnserver.sh).
VYTAL_BUILD_DIR="$BUILD_DIR" VYTAL_ADMIN_SCREENSHOTS="$ROOT/docs/admin" \
  node --test --test-reporter=spec "$ROOT/tests/integration/turn_admin_controls.test.mjs"
ls -l "$ROOT/docs/admin"
