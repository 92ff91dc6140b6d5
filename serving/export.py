"""Officers' reviews as a labeled dataset for retraining (YOLO layout, the one `xscreen train` reads).

Per reviewed scan (its latest review counts):
- `threat_confirmed` with corrected boxes: those boxes;
- `threat_confirmed` without boxes: the model's stored boxes of the confirmed classes; a confirmed class the
  model never boxed cannot be labeled, so that scan is skipped (listed in the manifest: add boxes to keep it);
- `false_alarm` and `clear`: an empty label file, a hard negative (the model's boxes there were wrong, or the
  officer found nothing).
Display images (JPEG, PNG, BMP, WebP at 8 bits) are copied byte for byte; raw scans (16-bit, dual-energy,
TIFF, NPZ, DICOM) are rendered to PNG as an operator sees them (`Scan.display_rgb`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from xscreen.serving.store.images import ImageStore
from xscreen.serving.store.records import ReviewRecord, ScanRecord
from xscreen.serving.store.scans import reviewed_scans
from xscreen.vision.draw import encode_png
from xscreen.vision.registry import model_ref
from xscreen.vision.taxonomy import Taxonomy
from xscreen.vision.yolo import Label, image_path, label_path, write_data_yaml, write_labels

logger = logging.getLogger(__name__)

COPIED_FORMATS = {"jpeg": ".jpg", "png": ".png", "bmp": ".bmp", "webp": ".webp"}


@dataclass
class ExportSummary:
    out_dir: Path
    exported: int = 0
    confirmed: int = 0
    false_alarms: int = 0  # false alarms and clears: the negatives
    skipped: list[str] = field(default_factory=list)


def label_boxes(scan: ScanRecord, review: ReviewRecord) -> list[tuple[int, list[float]]] | None:
    """(class id, xyxy) labels for a reviewed scan, or None when its review cannot be turned into labels."""
    if review.outcome in ("false_alarm", "clear"):
        return []
    if review.boxes is not None:
        return [(int(b["class_id"]), [float(v) for v in b["box"]]) for b in review.boxes]
    confirmed = set(review.class_ids)
    boxes = [(d.class_id, [d.x0, d.y0, d.x1, d.y1]) for d in scan.detections if d.class_id in confirmed]
    if {c for c, _ in boxes} != confirmed:
        return None
    return boxes


def file_stem(scan_id: str) -> str:
    """A file name for a station's scan id, which may hold ':' or '/'; a hash keeps altered names distinct."""
    safe = scan_id.replace("/", "_").replace(":", "_")
    return safe if safe == scan_id else f"{safe}-{hashlib.sha256(scan_id.encode()).hexdigest()[:8]}"


def _write_image(data: bytes, images_dir: Path, stem: str, max_pixels: int) -> Path:
    from xscreen.vision.io import read_scan, sniff_format

    fmt = sniff_format(data)
    scan = read_scan(data, max_pixels=max_pixels)
    if fmt in COPIED_FORMATS and not scan.is_raw:
        path = image_path(images_dir, stem, COPIED_FORMATS[fmt])
        path.write_bytes(data)
        return path
    path = image_path(images_dir, stem, ".png")
    path.write_bytes(encode_png(scan.display_rgb()))
    return path


def export_reviews(
    *, sessions: sessionmaker[Session], images: ImageStore, taxonomy: Taxonomy, out_dir: Path, since: datetime | None = None, max_pixels: int
) -> ExportSummary:
    """Write images/, labels/, data.yaml and reviews.jsonl under `out_dir`; returns what was written."""
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(out_dir=out_dir)
    manifest = []
    with sessions() as session:
        for scan, review in reviewed_scans(session=session, since=since):
            labels = label_boxes(scan, review)
            entry = {
                "scan_id": scan.id, "outcome": review.outcome, "review_id": review.id, "officer": review.officer,
                "note": review.note, "reviewed_at": review.created_at.isoformat(), "image_sha256": scan.image_sha256,
                "model": model_ref(scan.model_name, scan.model_version), "classes": [taxonomy.by_id(c).name for c in review.class_ids],
            }
            if labels is None:
                entry["skipped"] = "a confirmed class has no box: review it again with corrected boxes"
                summary.skipped.append(scan.id)
                manifest.append(entry)
                continue
            image = _write_image(images.get(scan.image_sha256), out_dir / "images", file_stem(scan.id), max_pixels)
            write_labels(label_path(image), [Label.from_box((c, box[0], box[1], box[2], box[3]), scan.width, scan.height) for c, box in labels])
            entry["image"] = str(image.relative_to(out_dir))
            manifest.append(entry)
            summary.exported += 1
            if review.outcome in ("false_alarm", "clear"):
                summary.false_alarms += 1
            else:
                summary.confirmed += 1
    write_data_yaml(out_dir / "data.yaml", names=taxonomy.names, splits={"train": "images", "val": "images"}, root=out_dir.resolve())
    (out_dir / "reviews.jsonl").write_text("".join(json.dumps(e) + "\n" for e in manifest))
    logger.info("exported %d reviewed scans to %s (%d skipped)", summary.exported, out_dir, len(summary.skipped))
    return summary
