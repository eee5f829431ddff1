#!/usr/bin/env bash
# Runs the whole test suite (sets up .venv first: the same environment as scripts/main.sh).
# Tests that need ../shared/data skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh  # no argument: the one environment both README commands share
VENV=${FACEPRINT_VENV:-.venv}
scripts/install_browser.sh  # Debian chromium for the browser test (skips it when not root)
# static gates (pyproject.toml: [tool.ruff], [tool.mypy]): a lint or type error fails the run
echo "== ruff (lint) and mypy (types)" >&2
"$VENV/bin/ruff" check --no-cache src tests benchmarks scripts
"$VENV/bin/mypy" --no-incremental
exec "$VENV/bin/python" -m pytest "$@"
