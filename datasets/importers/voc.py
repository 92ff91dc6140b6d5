"""Pascal VOC: one XML per image (`<object><name>` + `<bndbox>` in pixels), as SIXray ships it.

Images are matched to annotations by file stem anywhere under the source (SIXray keeps `train/NNNN.jpg`
beside `Annotation/NNNN.xml`; VOC proper keeps `JPEGImages/` beside `Annotations/`). An image's parent
folder, when it is not the generic image folder, is its subset.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from xscreen.datasets.importers.records import SourceBox, SourceSample
from xscreen.datasets.importers.scan import subset_of
from xscreen.errors import DatasetError
from xscreen.vision.yolo import find_images

log = logging.getLogger(__name__)


def read_voc(src: Path) -> Iterator[SourceSample]:
    xmls = sorted(p for p in src.rglob("*.xml") if p.is_file())
    if not xmls:
        raise DatasetError(f"no Pascal VOC .xml annotations under {src}")
    images: dict[str, list[Path]] = {}
    for image in find_images(src):
        images.setdefault(image.stem, []).append(image)
    for xml in xmls:
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError as exc:
            log.warning("skipping unparsable annotation %s: %s", xml, exc)
            continue
        candidates = images.get(xml.stem) or images.get(Path(root.findtext("filename") or "").stem) or []
        if len(candidates) != 1:
            log.warning("annotation %s matches %d images; skipped", xml, len(candidates))
            continue
        image = candidates[0]
        boxes = []
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            if bb is None:
                continue
            try:
                xyxy = tuple(float(bb.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax"))
            except ValueError:
                log.warning("non-numeric box in %s; dropped", xml)
                continue
            boxes.append(SourceBox((obj.findtext("name") or "").strip(), xyxy))  # type: ignore[arg-type]
        yield SourceSample(image=image, boxes=boxes, subset=subset_of(image, src))
