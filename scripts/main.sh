#!/usr/bin/env bash
# The main job on the embedded default (SQLite gallery): enrol the people in a folder-per-person
# tree, then say who is in each photo.
#
#   scripts/main.sh [PEOPLE_DIR [PHOTO_OR_DIR ...]]
#
# PEOPLE_DIR holds one sub-folder per person (its name is the person's name) with their photos.
# Without arguments it uses face_recognition's example photos from ../shared/data.
# The gallery persists in $FACEPRINT_HOME (default: ./.faceprint-home); run again to add people.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export FACEPRINT_HOME=${FACEPRINT_HOME:-$PWD/.faceprint-home}
fp=.venv/bin/faceprint
examples=../shared/data/face_recognition_examples/examples/knn_examples
people=${1:-$examples/train}
if [ $# -ge 2 ]; then shift; photos=("$@"); elif [ $# -eq 1 ]; then photos=(); else photos=("$examples/test"); fi
if [ ! -d "$people" ]; then
  echo "usage: scripts/main.sh PEOPLE_DIR [PHOTO_OR_DIR ...]  (no example data at $people)" >&2
  exit 2
fi
echo "== enrolling the people in $people (gallery: $FACEPRINT_HOME)"
"$fp" enroll --folders "$people"
files=()
for p in "${photos[@]}"; do
  if [ -d "$p" ]; then while IFS= read -r f; do files+=("$f"); done < <(find "$p" -maxdepth 1 -type f | sort)
  else files+=("$p"); fi
done
if [ ${#files[@]} -gt 0 ]; then
  echo "== who is in these photos?"
  "$fp" identify "${files[@]}"
fi
echo "== gallery"
"$fp" gallery list
