#!/usr/bin/env bash
# Run the whole (CI) test suite. pytest's exit 5 ("no tests ran") is a failure here, on purpose.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# Lint and types first (seconds once mypy's cache is warm): ruff and mypy as configured in pyproject.toml.
VENV=$VENV bash scripts/lint.sh || { echo "error: lint or type check failed (scripts/lint.sh)" >&2; exit 1; }
"$VENV/bin/python" -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "error: no tests ran" >&2
  exit 1
fi
exit $rc
