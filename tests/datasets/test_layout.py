"""Reading a built set's layout: the data.yaml root and the manifest."""

from __future__ import annotations

import json
from pathlib import Path

from xscreen.datasets.layout import data_root, read_manifest


def test_data_root_follows_path_relative_to_the_yaml(tmp_path: Path) -> None:
    yaml_path = tmp_path / "sets" / "data.yaml"
    assert data_root(yaml_path, {}) == tmp_path / "sets"
    assert data_root(yaml_path, {"path": "../other"}) == tmp_path / "sets" / "../other"
    assert data_root(yaml_path, {"path": str(tmp_path / "abs")}) == tmp_path / "abs"


def test_read_manifest_skips_blank_lines_and_missing_file(tmp_path: Path) -> None:
    assert read_manifest(tmp_path) == []
    rows = [{"file": "images/train/a.jpg", "source": "sixray", "split": "train"}]
    (tmp_path / "manifest.jsonl").write_text(json.dumps(rows[0]) + "\n\n")
    assert read_manifest(tmp_path) == rows
