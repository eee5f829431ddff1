#!/usr/bin/env bash
# Installs Debian's Chromium for the service's browser test (tests/integration/service/
# test_service_browser.py drives it with Playwright's Python package; Playwright's own browser
# download is never used). Needs root and apt; without them the browser test skips with a reason.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: not root or no apt-get: the browser test will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || {
  apt-get update -q >/dev/null 2>&1
  apt-get install -y -q --no-install-recommends chromium >/dev/null
}
chromium --version 2>/dev/null | head -1 || true
