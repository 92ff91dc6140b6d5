"""Reading what `xscreen data build` writes: the data.yaml's root and the manifest of built scans.

    data_root(data_yaml, spec) -> Path           the folder a data.yaml's split entries are relative to
    read_manifest(root) -> list[dict]             manifest.jsonl entries (file, source, split, id, origins)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MANIFEST = "manifest.jsonl"


def data_root(data_yaml: Path, spec: Mapping[str, Any]) -> Path:
    """`path:` when given (relative to the yaml's folder), else the yaml's folder, as ultralytics reads it."""
    path = spec.get("path")
    if not path:
        return data_yaml.parent
    return Path(path) if Path(path).is_absolute() else data_yaml.parent / path


def read_manifest(root: Path) -> list[dict[str, Any]]:
    """The build's manifest entries, in order; [] when `root` holds none (not a built set)."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return []
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
