#!/usr/bin/env bash
# Create .venv and install xscreen with everything (serve, train, cluster, test). Idempotent: a second
# run with an unchanged pyproject.toml returns at once. Works on a fresh machine of this project's kind:
# torch==2.14.1 / torchvision==0.29.1 are pinned so pip takes the wheels on this machine's disk.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.xscreen-installed"
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c "import xscreen.cli" 2>/dev/null; then
  exit 0
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch first, alone, so the resolver never considers another build.
"$VENV/bin/python" -m pip install --quiet torch==2.14.1 torchvision==0.29.1
"$VENV/bin/python" -m pip install --quiet -e ".[all]"
echo "$want" > "$stamp"
echo "xscreen installed in $VENV"
