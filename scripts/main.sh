#!/usr/bin/env bash
# The main job on the embedded default (SQLite gallery): enrol the people in a folder-per-person
# tree, say who is in each photo, then start the service with its web page (enrol, identify,
# list and delete people in the browser) until Ctrl-C.
#
#   scripts/main.sh [PEOPLE_DIR [PHOTO_OR_DIR ...]]
#
# PEOPLE_DIR holds one sub-folder per person (its name is the person's name) with their photos.
# Without arguments it uses face_recognition's example photos from ../shared/data (and starts the
# service with whatever the gallery holds when they are absent).
# The gallery persists in $FACEPRINT_HOME (default: ./.faceprint-home); run again to add people.
# The page is at http://127.0.0.1:${FACEPRINT_PORT:-8000}/ (loopback only; set FACEPRINT_HOST to
# expose it, which requires API keys: `.venv/bin/faceprint keys create --scope admin`).
# FACEPRINT_SERVE=0 stops after identifying (no service).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh service
export FACEPRINT_HOME=${FACEPRINT_HOME:-$PWD/.faceprint-home}
fp=.venv/bin/faceprint
examples=../shared/data/face_recognition_examples/examples/knn_examples
people=${1:-$examples/train}
if [ $# -ge 2 ]; then shift; photos=("$@"); elif [ $# -eq 1 ]; then photos=(); else photos=("$examples/test"); fi
if [ -d "$people" ]; then
  echo "== enrolling the people in $people (gallery: $FACEPRINT_HOME)"
  "$fp" enroll --folders "$people"
  files=()
  for p in "${photos[@]}"; do
    if [ -d "$p" ]; then while IFS= read -r f; do files+=("$f"); done < <(find "$p" -maxdepth 1 -type f | sort)
    elif [ -e "$p" ]; then files+=("$p"); fi
  done
  if [ ${#files[@]} -gt 0 ]; then
    echo "== who is in these photos?"
    "$fp" identify "${files[@]}" || true  # exit 1 = some photo had no known face: not a failure here
  fi
elif [ $# -ge 1 ]; then
  echo "usage: scripts/main.sh PEOPLE_DIR [PHOTO_OR_DIR ...]  ($people is not a directory)" >&2
  exit 2
else
  echo "== no example data at $people: starting with the gallery in $FACEPRINT_HOME as it is"
fi
echo "== gallery"
"$fp" gallery list
if [ "${FACEPRINT_SERVE:-1}" = "0" ]; then exit 0; fi
echo "== web page and API: http://${FACEPRINT_HOST:-127.0.0.1}:${FACEPRINT_PORT:-8000}/  (Ctrl-C to stop)"
exec "$fp" serve
