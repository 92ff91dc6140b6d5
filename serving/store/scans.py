"""Scan and review storage (our crud.py): plain functions with keyword-only arguments.

Idempotency lives here: a scan's `id` is the station's scan_id; saving one that exists returns the
stored record (same station, same image) or raises `ScanConflict` (the key reused for something else).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping

import numpy as np
from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xscreen.errors import ScanConflict, ScanNotFound
from xscreen.serving.store.db import page
from xscreen.serving.store.records import DetectionRecord, ReviewRecord, ScanRecord, utcnow
from xscreen.vision.detections import Detections


def detection_rows(detections: Detections) -> list[DetectionRecord]:
    return [
        DetectionRecord(index=i, class_id=class_id, score=score, x0=float(box[0]), y0=float(box[1]), x1=float(box[2]), y1=float(box[3]))
        for i, (box, score, class_id) in enumerate(detections)
    ]


def record_detections(record: ScanRecord) -> Detections:
    rows = record.detections
    if not rows:
        return Detections.empty()
    return Detections(
        np.array([[d.x0, d.y0, d.x1, d.y1] for d in rows], np.float32), np.array([d.score for d in rows], np.float32),
        np.array([d.class_id for d in rows], np.int64),
    )


def find_scan(*, session: Session, scan_id: str) -> ScanRecord | None:
    return session.get(ScanRecord, scan_id)


def get_scan(*, session: Session, scan_id: str, station: str | None = None) -> ScanRecord:
    """The scan `scan_id`; with `station`, only if that station sent it. Another station's scan is the same
    ScanNotFound as a missing one, so a key cannot learn which ids exist elsewhere."""
    record = find_scan(session=session, scan_id=scan_id)
    if record is None or (station is not None and record.station != station):
        raise ScanNotFound(f"no scan with id {scan_id!r}")
    return record


# What a station sends besides the image. A replay must repeat them: a re-send with another item_ref used to
# return the old record, and the station believed the new parcel reference was stored.
REPLAY_FIELDS = ("item_ref", "declared_contents", "hs_code", "declared_value", "origin", "view", "pixel_pitch_mm")


def check_replay(existing: ScanRecord, *, station: str, image_sha256: str, metadata: Mapping[str, Any]) -> ScanRecord:
    """A re-sent scan_id is a replay only from the same station with the same image and the same metadata
    (`REPLAY_FIELDS`). The station and image refusals read the same, so the answer does not say whose the id
    is (that it is taken still shows: ids are global keys); the metadata one names the fields that differ."""
    if existing.station != station or existing.image_sha256 != image_sha256:
        raise ScanConflict(f"scan_id {existing.id!r} is already taken by another scan; use a new scan_id")
    differ = [name for name in REPLAY_FIELDS if getattr(existing, name) != metadata.get(name)]
    if differ:
        raise ScanConflict(
            f"scan_id {existing.id!r} was stored with another {', '.join(differ)}; resend it with the stored values "
            "or send the scan under a new scan_id"
        )
    return existing


def replay_metadata(record: ScanRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in REPLAY_FIELDS}


def save_scan(*, session: Session, record: ScanRecord, within: Callable[[Session, ScanRecord], None] | None = None) -> tuple[ScanRecord, bool]:
    """Insert and commit `record`; returns (stored record, created). A concurrent twin that won the insert
    is returned instead (created False), so a scan_id is stored exactly once.

    `within(session, record)` runs after the insert and before the commit, so what it writes (a case and its
    outbox rows) is committed with the scan or not at all. When the commit fails for another reason than
    the scan_id (a concurrent hold opened the same parcel's case), it is tried once more: `within` then sees
    the other transaction's rows."""
    for attempt in (1, 2):
        session.add(record)
        try:
            if within is not None:
                session.flush()
                within(session, record)
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = find_scan(session=session, scan_id=record.id)
            if existing is None:
                if attempt == 1 and within is not None:
                    record = _fresh(record)
                    continue
                raise
            return check_replay(existing, station=record.station, image_sha256=record.image_sha256, metadata=replay_metadata(record)), False
        return record, True
    raise AssertionError("unreachable: the second attempt returns or raises")


def _fresh(record: ScanRecord) -> ScanRecord:
    """A transient copy of a record whose insert was rolled back (the session expunged the original)."""
    columns = {c.key: getattr(record, c.key) for c in ScanRecord.__table__.columns}
    detections = [DetectionRecord(**{c.key: getattr(d, c.key) for c in DetectionRecord.__table__.columns if c.key != "scan_id"})
                  for d in record.detections]
    return ScanRecord(**columns, detections=detections)


@dataclass(frozen=True)
class ScanFilter:
    verdict: str | None = None
    class_id: int | None = None
    station: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    item_ref: str | None = None
    reviewed: bool | None = None  # True: at least one review; False: none yet


def _filtered(where: ScanFilter) -> Select[ScanRecord]:
    query = select(ScanRecord)
    if where.verdict is not None:
        query = query.where(ScanRecord.verdict == where.verdict)
    if where.station is not None:
        query = query.where(ScanRecord.station == where.station)
    if where.since is not None:
        query = query.where(ScanRecord.received_at >= where.since)
    if where.until is not None:
        query = query.where(ScanRecord.received_at < where.until)
    if where.item_ref is not None:
        query = query.where(ScanRecord.item_ref == where.item_ref)
    if where.reviewed is not None:
        has_review = select(ReviewRecord.scan_id)
        query = query.where(ScanRecord.id.in_(has_review) if where.reviewed else ScanRecord.id.not_in(has_review))
    if where.class_id is not None:
        has_class = select(DetectionRecord.scan_id).where(DetectionRecord.class_id == where.class_id)
        query = query.where(ScanRecord.id.in_(has_class))
    return query


def list_scans(*, session: Session, where: ScanFilter, limit: int, offset: int) -> tuple[list[ScanRecord], int]:
    """One page of scans, newest first, and the total matching."""
    return page(session, _filtered(where), (ScanRecord.received_at.desc(), ScanRecord.id.desc()), limit, offset)


QUEUE_VERDICTS = ("hold", "inspect")


def queue_scans(*, session: Session, where: ScanFilter, limit: int, offset: int) -> tuple[list[ScanRecord], int]:
    """The officers' queue: scans held or sent to inspection that no officer has reviewed yet, `hold` first,
    then `inspect`, each oldest first (the parcel waiting longest on the belt comes next); and the total."""
    if where.verdict is not None and where.verdict not in QUEUE_VERDICTS:
        return [], 0
    query = _filtered(dataclasses.replace(where, reviewed=False)).where(ScanRecord.verdict.in_(QUEUE_VERDICTS))
    hold_first = case((ScanRecord.verdict == "hold", 0), else_=1)
    return page(session, query, (hold_first, ScanRecord.received_at, ScanRecord.id), limit, offset)


def add_review(
    *,
    session: Session,
    scan_id: str,
    officer_id: int,
    officer: str,
    outcome: str,
    class_ids: list[int],
    boxes: list[dict[str, Any]] | None,
    note: str | None,
) -> ReviewRecord:
    """Store an officer's review of `scan_id` (`officer`: their name, kept with the id for audit and export)."""
    get_scan(session=session, scan_id=scan_id)  # whose scan may be reviewed is the route's call
    review = ReviewRecord(
        scan_id=scan_id, station=None, officer_id=officer_id, officer=officer, outcome=outcome, class_ids=class_ids, boxes=boxes,
        note=note, created_at=utcnow(),
    )
    session.add(review)
    session.commit()
    return review


def reviewed_scans(*, session: Session, since: datetime | None = None) -> list[tuple[ScanRecord, ReviewRecord]]:
    """Every reviewed scan with its latest review (the one that counts), oldest scan first."""
    latest = select(ReviewRecord.scan_id, func.max(ReviewRecord.id).label("review_id")).group_by(ReviewRecord.scan_id)
    if since is not None:
        latest = latest.where(ReviewRecord.created_at >= since)
    latest_sq = latest.subquery()
    rows = session.execute(
        select(ScanRecord, ReviewRecord)
        .join(latest_sq, latest_sq.c.scan_id == ScanRecord.id)
        .join(ReviewRecord, ReviewRecord.id == latest_sq.c.review_id)
        .order_by(ScanRecord.received_at, ScanRecord.id)
    ).all()
    return [(scan, review) for scan, review in rows]
