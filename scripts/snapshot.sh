#!/usr/bin/env bash
# Lay out a committed revision as the installed package tree (xscreen/, xscreen/vision, ...) in DEST, so a
# long training run imports frozen code while the working tree keeps changing:
#   scripts/snapshot.sh HEAD /tmp/xscreen-snap && PYTHONPATH=/tmp/xscreen-snap .venv/bin/python -m xscreen.cli train ...
set -euo pipefail
rev=${1:-HEAD}; dest=${2:?usage: snapshot.sh REV DEST}
root=$(git rev-parse --show-toplevel)
rm -rf "$dest" && mkdir -p "$dest/src"
git -C "$root" archive "$rev" | tar -x -C "$dest/src"
mv "$dest/src/xscreen" "$dest/xscreen"
for pkg in vision datasets training serving; do mv "$dest/src/$pkg" "$dest/xscreen/$pkg"; done
mv "$dest/src/configs" "$dest/configs"
rm -rf "$dest/src"
echo "$dest"
