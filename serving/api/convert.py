"""Stored records to wire types (taxonomy names and categories are looked up here, at the edge)."""

from __future__ import annotations

from xscreen.errors import InvalidRequest
from xscreen.serving.api.schemas import (
    BoxIn,
    CaseEventOut,
    CaseOut,
    CaseScanOut,
    DecisionOut,
    DeliveryOut,
    DetectionOut,
    ImageOut,
    ModelRef,
    ReviewOut,
    ScanLinks,
    ScanOut,
)
from xscreen.serving.store.records import CaseRecord, OutboxRecord, ReviewRecord, ScanRecord
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


def scan_links(scan_id: str, base_url: str = "") -> ScanLinks:
    """Where a scan, its image and its annotated image are served; `base_url` is settings.public_url (or paths)."""
    scan = f"{base_url}/v1/scans/{scan_id}"
    return ScanLinks(scan=scan, image=f"{scan}/image", annotated=f"{scan}/annotated")


def case_out(case: CaseRecord, taxonomy: Taxonomy, base_url: str = "") -> CaseOut:
    first = case.scans[0].scan if case.scans else None
    return CaseOut(
        case_id=case.id,
        state=case.state,
        item_ref=case.item_ref,
        station=case.station,
        declared_contents=first.declared_contents if first else None,
        hs_code=first.hs_code if first else None,
        declared_value=first.declared_value if first else None,
        origin=first.origin if first else None,
        categories=list(case.categories),
        assignee=case.assignee,
        opened_at=case.opened_at,
        updated_at=case.updated_at,
        scan_ids=[link.scan_id for link in case.scans],
        scans=[
            CaseScanOut(
                scan_id=link.scan_id,
                station=link.scan.station,
                received_at=link.scan.received_at,
                attached_at=link.attached_at,
                detections=[DetectionOut(**row) for row in record_detections(link.scan).to_records(taxonomy)],
                decision=DecisionOut(verdict=link.scan.verdict, reasons=link.scan.reasons, policy_version=link.scan.policy_version),
                links=scan_links(link.scan_id, base_url),
            )
            for link in case.scans
        ],
        history=[CaseEventOut(event=e.event, state=e.state, actor=e.actor, scan_id=e.scan_id, note=e.note, at=e.at) for e in case.events],
        link=f"{base_url}/v1/cases/{case.id}",
    )


def delivery_out(row: OutboxRecord) -> DeliveryOut:
    return DeliveryOut(
        id=row.id, delivery_id=row.delivery_id, receiver=row.receiver, event=row.event, case_id=row.case_id, status=row.status,
        attempts=row.attempts, created_at=row.created_at, next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        delivered_at=row.delivered_at, last_error=row.last_error,
    )
