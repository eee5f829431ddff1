#!/usr/bin/env bash
# Runs the whole test suite (installs what it needs into .venv first).
# Tests that need ../shared/data skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh service test train
scripts/install_browser.sh  # Debian chromium for the browser test (skips it when not root)
exec .venv/bin/python -m pytest "$@"
