#!/usr/bin/env bash
# Run the whole (CI) test suite. pytest's exit 5 ("no tests ran") is a failure here, on purpose.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
"$VENV/bin/python" -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "error: no tests ran" >&2
  exit 1
fi
exit $rc
