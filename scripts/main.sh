#!/usr/bin/env bash
# The main job on the embedded default (SQLite gallery): enrol the people in a folder-per-person
# tree, say who is in each photo, then start the service with its web page (enrol, identify,
# list and delete people in the browser) until Ctrl-C.
#
#   scripts/main.sh [PEOPLE_DIR [PHOTO_OR_DIR ...]]
#
# PEOPLE_DIR holds one sub-folder per person (its name is the person's name) with their photos.
# A photo that cannot be used (no face, several faces, unreadable) is reported and skipped.
# Without arguments it uses face_recognition's example photos from ../shared/data (and starts the
# service with whatever the gallery holds when they are absent).
# The gallery is the CLI's own: $FACEPRINT_HOME when set, else the per-user data directory
# (`faceprint gallery info` says where), so `faceprint gallery list` sees what this enrolled.
# The page is at http://127.0.0.1:${FACEPRINT_PORT:-8000}/ (loopback only; set FACEPRINT_HOST to
# expose it, which requires API keys: `.venv/bin/faceprint keys create --scope admin`).
# FACEPRINT_SERVE=0 stops after identifying (no service).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh  # no argument: the one environment both README commands share
VENV=${FACEPRINT_VENV:-.venv}
fp=("$VENV/bin/faceprint")
examples=../shared/data/face_recognition_examples/examples/knn_examples
people=${1:-$examples/train}
if [ $# -ge 2 ]; then shift; photos=("$@"); elif [ $# -eq 1 ]; then photos=(); else photos=("$examples/test"); fi
if [ -z "${FACEPRINT_HOME:-}" ] && [ -e .faceprint-home/gallery.sqlite ]; then
  echo "== note: an older gallery is in ./.faceprint-home (this script's former default); to use it:" \
       "FACEPRINT_HOME=$PWD/.faceprint-home scripts/main.sh ..." >&2
fi
where=$("${fp[@]}" gallery info --json | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["location"])')
if [ -d "$people" ]; then
  echo "== enrolling the people in $people (gallery: $where)"
  # exit 1 = some person got no usable photo: reported above, not a reason to stop here
  "${fp[@]}" enroll --folders "$people" --no-progress || echo "== some people were not enrolled (see above); going on" >&2
  if [ ${#photos[@]} -gt 0 ]; then
    echo "== who is in these photos?"
    "${fp[@]}" identify "${photos[@]}" --no-progress || true  # 1 = no known face in some photo, 2 = a bad photo: reported
  fi
elif [ $# -ge 1 ]; then
  echo "usage: scripts/main.sh PEOPLE_DIR [PHOTO_OR_DIR ...]  ($people is not a directory)" >&2
  exit 2
else
  echo "== no example data at $people: starting with the gallery in $where as it is"
fi
echo "== gallery"
"${fp[@]}" gallery list
if [ "${FACEPRINT_SERVE:-1}" = "0" ]; then exit 0; fi
echo "== web page and API: http://${FACEPRINT_HOST:-127.0.0.1}:${FACEPRINT_PORT:-8000}/  (Ctrl-C to stop)"
exec "${fp[@]}" serve
