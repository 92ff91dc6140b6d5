"""The HiXray / OPIXray txt layout: `SPLIT/SPLIT_image/X.jpg` with `SPLIT/SPLIT_annotation/X.txt`,
each line `X.jpg ClassName x1 y1 x2 y2` in pixels. The subset is the SPLIT folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from xscreen.datasets.importers.records import SourceBox, SourceSample
from xscreen.datasets.importers.scan import subset_of
from xscreen.errors import DatasetError
from xscreen.vision.yolo import find_images

log = logging.getLogger(__name__)


def read_txt_layout(src: Path) -> Iterator[SourceSample]:
    annotations: dict[str, Path] = {}
    for txt in sorted(src.rglob("*.txt")):
        if "annotation" in txt.parent.name.lower():
            annotations[txt.stem] = txt
    if not annotations:
        raise DatasetError(f"no *_annotation/*.txt files under {src} (HiXray/OPIXray layout)")
    for image in find_images(src):
        annotation = annotations.get(image.stem)
        if annotation is None:
            continue  # an image without its annotation file is not part of the labelled set
        boxes = []
        for lineno, line in enumerate(annotation.read_text(errors="replace").splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            # HiXray/OPIXray lines start with the image name; tolerate files that omit it.
            if len(fields) < 5 or not all(_is_number(v) for v in fields[-4:]):
                log.warning("%s:%d: not `image class x1 y1 x2 y2`; line dropped", annotation, lineno)
                continue
            name = fields[-5] if len(fields) >= 6 else fields[0]
            boxes.append(SourceBox(name, tuple(map(float, fields[-4:]))))  # type: ignore[arg-type]
        yield SourceSample(image=image, boxes=boxes, subset=subset_of(image, src))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
