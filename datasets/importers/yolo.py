"""YOLO txt: `images/**/X.jpg` with `labels/**/X.txt` lines `class cx cy w h` (fractions), as in
ultralytics and Roboflow exports. Class names come from a `data.yaml` beside the source when it has
one; otherwise the ids themselves (as strings) are the names the name map must cover.
An image without a label file is a background image (the YOLO convention).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import yaml

from xscreen.datasets.importers.records import SourceBox, SourceSample
from xscreen.datasets.importers.scan import find_images, subset_of
from xscreen.errors import DatasetError

log = logging.getLogger(__name__)


def _class_names(src: Path) -> dict[int, str]:
    for candidate in (src / "data.yaml", src / "dataset.yaml"):
        if candidate.is_file():
            names = (yaml.safe_load(candidate.read_text()) or {}).get("names")
            if isinstance(names, list):
                return dict(enumerate(map(str, names)))
            if isinstance(names, dict):
                return {int(k): str(v) for k, v in names.items()}
    return {}


def _label_path(image: Path, src: Path) -> Path:
    """ultralytics' rule: the last `images` folder in the path becomes `labels`, suffix `.txt`."""
    parts = list(image.relative_to(src).parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return src.joinpath(*parts).with_suffix(".txt")


def read_yolo(src: Path) -> Iterator[SourceSample]:
    if not (src / "images").is_dir():
        raise DatasetError(f"no images/ folder under {src} (YOLO layout: images/ and labels/)")
    names = _class_names(src)
    for image in find_images(src / "images"):
        label = _label_path(image, src)
        boxes: list[SourceBox] = []
        if label.is_file():
            for lineno, line in enumerate(label.read_text().splitlines(), 1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    cls = int(float(fields[0]))
                    cx, cy, w, h = map(float, fields[1:5])
                except (ValueError, IndexError):
                    log.warning("%s:%d: not `class cx cy w h`; line dropped", label, lineno)
                    continue
                boxes.append(SourceBox(names.get(cls, str(cls)), (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
        yield SourceSample(image=image, boxes=boxes, subset=subset_of(image, src / "images"), normalized=True)
