"""Reading a built set's manifest."""

from __future__ import annotations

import json
from pathlib import Path

from xscreen.datasets.layout import read_manifest


def test_read_manifest_skips_blank_lines_and_missing_file(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) == []
    rows = [{"file": "images/train/a.jpg", "source": "sixray", "split": "train"}]
    (tmp_path / "manifest.jsonl").write_text(json.dumps(rows[0]) + "\n\n")
    assert read_manifest(tmp_path) == rows
