"""COCO json (as PIDray ships it): `annotations/*.json` with images, categories and `bbox` [x, y, w, h]
in pixels. Each json's stem is its subset (PIDray: xray_train, xray_test_easy, ...). Image files are
found by `file_name` relative to the json, the source root, or by base name anywhere under the source.
Crowd annotations are skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from xscreen.datasets.importers.records import SourceBox, SourceSample
from xscreen.errors import DatasetError
from xscreen.vision.yolo import find_images

log = logging.getLogger(__name__)


def read_coco(src: Path) -> Iterator[SourceSample]:
    jsons = [src] if src.is_file() else sorted(p for p in src.rglob("*.json") if p.is_file())
    root = src.parent if src.is_file() else src
    if not jsons:
        raise DatasetError(f"no COCO .json annotation files under {src}")
    by_name: dict[str, list[Path]] = {}
    for image in find_images(root):
        by_name.setdefault(image.name, []).append(image)
    for path in jsons:
        try:
            data = json.loads(path.read_text())
            categories = {int(c["id"]): str(c["name"]) for c in data["categories"]}
            images = {int(i["id"]): str(i["file_name"]) for i in data["images"]}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path} is not COCO detection json: {exc}") from exc
        boxes: dict[int, list[SourceBox]] = {i: [] for i in images}
        for ann in data.get("annotations", []):
            if ann.get("iscrowd"):
                continue
            x, y, w, h = map(float, ann["bbox"])
            name = categories.get(int(ann["category_id"]), str(ann["category_id"]))
            boxes.setdefault(int(ann["image_id"]), []).append(SourceBox(name, (x, y, x + w, y + h)))
        for image_id, file_name in images.items():
            found = _locate(file_name, path.parent, root, by_name)
            if found is None:
                log.warning("%s: image %s not found under %s; skipped", path.name, file_name, root)
                continue
            yield SourceSample(image=found, boxes=boxes.get(image_id, []), subset=path.stem)


def _locate(file_name: str, json_dir: Path, root: Path, by_name: dict[str, list[Path]]) -> Path | None:
    for base in (json_dir, root):
        if (base / file_name).is_file():
            return base / file_name
    found = by_name.get(Path(file_name).name, [])
    return found[0] if len(found) == 1 else None
