#!/usr/bin/env bash
# Runs the whole test suite (sets up .venv first: the same environment as scripts/main.sh).
# Tests that need ../shared/data skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh  # no argument: the one environment both README commands share
VENV=${FACEPRINT_VENV:-.venv}
scripts/install_browser.sh  # Debian chromium for the browser test (skips it when not root)
# --- static gates (lint, types) go here, before the tests ---
exec "$VENV/bin/python" -m pytest "$@"
