"""YOLO txt: `images/**/X.jpg` with `labels/**/X.txt` lines `class cx cy w h` (fractions), as in
ultralytics and Roboflow exports (the format itself: `xscreen.vision.yolo`). Class names come from a
`data.yaml` beside the source when it has one; otherwise the ids themselves (as strings) are the names
the name map must cover. An image without a label file is a background image (the YOLO convention).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from xscreen.datasets.importers.records import SourceBox, SourceSample
from xscreen.datasets.importers.scan import subset_of
from xscreen.errors import DatasetError
from xscreen.vision.yolo import find_images, label_path, load_data_yaml, read_labels


def _class_names(src: Path) -> dict[int, str]:
    for candidate in (src / "data.yaml", src / "dataset.yaml"):
        if candidate.is_file():
            return dict(enumerate(load_data_yaml(candidate).names))
    return {}


def read_yolo(src: Path) -> Iterator[SourceSample]:
    if not (src / "images").is_dir():
        raise DatasetError(f"no images/ folder under {src} (YOLO layout: images/ and labels/)")
    names = _class_names(src)
    for image in find_images(src / "images"):
        boxes = [
            SourceBox(names.get(label.class_id, str(label.class_id)), (label.cx - label.w / 2, label.cy - label.h / 2, label.cx + label.w / 2, label.cy + label.h / 2))
            for label in read_labels(label_path(image), strict=False)
        ]
        yield SourceSample(image=image, boxes=boxes, subset=subset_of(image, src / "images"), normalized=True)
