#!/usr/bin/env bash
# ruff and mypy as configured in pyproject.toml; scripts/test.sh runs this first.
# mypy reads modules by their installed names (xscreen.vision, ...), which pyproject's package-dir maps onto
# top-level folders; it cannot follow setuptools' editable-install finder, so it checks a tree of symlinks
# laid out as installed (kept in .mypy_cache/ so its incremental cache stays valid between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
VENV=${VENV:-.venv}
case "$VENV" in /*) bin=$VENV/bin ;; *) bin=$root/$VENV/bin ;; esac
for tool in ruff mypy; do
  [ -x "$bin/$tool" ] || { echo "error: $bin/$tool is missing; run bash scripts/setup.sh (the test extra installs it)" >&2; exit 1; }
done
"$bin/ruff" check --quiet .
tree=.mypy_cache/xscreen-tree
rm -rf "$tree" && mkdir -p "$tree/xscreen"
for f in xscreen/*.py; do ln -s "$root/$f" "$tree/xscreen/"; done
for d in configs vision datasets training serving; do ln -s "$root/$d" "$tree/xscreen/$d"; done
(cd "$tree" && "$bin/mypy" --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" -p xscreen)
