"""Stored records to wire types (taxonomy names and categories are looked up here, at the edge)."""

from __future__ import annotations

from xscreen.errors import InvalidRequest
from xscreen.serving.api.schemas import BoxIn, DecisionOut, DetectionOut, ImageOut, ModelRef, ReviewOut, ScanOut
from xscreen.serving.store.records import ReviewRecord, ScanRecord
from xscreen.serving.store.scans import record_detections
from xscreen.vision.taxonomy import Taxonomy


def class_id_of(taxonomy: Taxonomy, name: str) -> int:
    """A class name from a request as its taxonomy id; an unknown name is a 422 naming the known ones."""
    try:
        return taxonomy.id_of(name)
    except KeyError as exc:
        raise InvalidRequest(str(exc.args[0])) from exc


def review_out(review: ReviewRecord, taxonomy: Taxonomy) -> ReviewOut:
    boxes = None
    if review.boxes is not None:
        boxes = [BoxIn(class_name=taxonomy.by_id(b["class_id"]).name, box=b["box"]) for b in review.boxes]
    return ReviewOut(
        id=review.id,
        scan_id=review.scan_id,
        station=review.station,
        officer=review.officer,
        outcome=review.outcome,
        classes=[taxonomy.by_id(c).name for c in review.class_ids],
        boxes=boxes,
        note=review.note,
        created_at=review.created_at,
    )


def scan_out(record: ScanRecord, taxonomy: Taxonomy) -> ScanOut:
    return ScanOut(
        scan_id=record.id,
        station=record.station,
        item_ref=record.item_ref,
        declared_contents=record.declared_contents,
        hs_code=record.hs_code,
        declared_value=record.declared_value,
        origin=record.origin,
        view=record.view,
        received_at=record.received_at,
        image=ImageOut(
            sha256=record.image_sha256,
            media_type=record.media_type,
            bytes=record.image_bytes,
            width=record.width,
            height=record.height,
            kind=record.image_kind,
            pixel_pitch_mm=record.pixel_pitch_mm,
        ),
        detections=[DetectionOut(**row) for row in record_detections(record).to_records(taxonomy)],
        decision=DecisionOut(verdict=record.verdict, reasons=record.reasons, policy_version=record.policy_version),
        model=ModelRef(name=record.model_name, version=record.model_version),
        timings_ms=record.timings,
        reviews=[review_out(r, taxonomy) for r in record.reviews],
    )
