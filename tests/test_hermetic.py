"""The test session leaves nothing behind in the temporary directory (it once left one folder a run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def test_the_session_folder_is_removed_when_the_process_exits(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    code = "import tests.conftest as c, sys; sys.stdout.write(str(c._SESSION_DIR))"
    made = subprocess.run([sys.executable, "-c", code], cwd=_ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert Path(made).parent == tmp_path  # it was made where the run was told to make it
    assert list(tmp_path.iterdir()) == []
