"""Reading the manifest `xscreen data build` writes beside data.yaml (the YOLO format itself is
`xscreen.vision.yolo`).

    read_manifest(root) -> list[dict]             manifest.jsonl entries (file, source, split, id, origins)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST = "manifest.jsonl"


def read_manifest(root: Path) -> list[dict[str, Any]]:
    """The build's manifest entries, in order; [] when `root` holds none (not a built set)."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        return []
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
