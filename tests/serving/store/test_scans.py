"""Scan and review storage on SQLite and PostgreSQL: round trips, idempotency, filters, reviews."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from xscreen.errors import ScanConflict, ScanNotFound
from xscreen.serving.officers import create_officer
from xscreen.serving.store.records import ScanRecord
from xscreen.serving.store.scans import (
    ScanFilter,
    add_review,
    detection_rows,
    get_scan,
    list_scans,
    queue_scans,
    record_detections,
    reviewed_scans,
    save_scan,
)
from xscreen.vision.detections import Detections

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)


def make_record(scan_id: str, *, station: str = "st-1", sha: str = "a" * 64, verdict: str = "clear", at: datetime = T0,
                detections: Detections | None = None) -> ScanRecord:
    detections = detections if detections is not None else Detections.empty()
    return ScanRecord(
        id=scan_id, station=station, item_ref="P-1", declared_contents=None, origin="CN", view="top", received_at=at,
        image_sha256=sha, media_type="image/png", image_bytes=123, width=640, height=480, image_kind="colour",
        model_name="tiny", model_version=1, policy_version="default:1", verdict=verdict, reasons=[], timings={"decode": 1.0},
        detections=detection_rows(detections),
    )


def test_round_trip_keeps_fields_boxes_in_order_and_utc(sessions: sessionmaker[Session]) -> None:
    dets = Detections([[1, 2, 30, 40], [5, 6, 7, 8.5]], [0.9, 0.4], [5, 0])
    with sessions() as s:
        stored, created = save_scan(session=s, record=make_record("r1", detections=dets, at=T0.astimezone(timezone(timedelta(hours=2)))))
        assert created
    with sessions() as s:
        record = get_scan(session=s, scan_id="r1")
        assert record.received_at == T0 and record.received_at.tzinfo is not None
        back = record_detections(record)
        np.testing.assert_allclose(back.xyxy, dets.xyxy)
        np.testing.assert_allclose(back.scores, dets.scores, rtol=1e-6)
        assert back.class_ids.tolist() == [5, 0]
        assert record.timings == {"decode": 1.0} and record.reviews == []


def test_missing_scan(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, pytest.raises(ScanNotFound):
        get_scan(session=s, scan_id="nope")
    with sessions() as s:
        save_scan(session=s, record=make_record("theirs", station="st-1"))
        assert get_scan(session=s, scan_id="theirs", station="st-1").station == "st-1"
    with sessions() as s, pytest.raises(ScanNotFound, match="no scan with id 'theirs'"):
        get_scan(session=s, scan_id="theirs", station="st-2")  # another station's scan reads as missing


def test_saving_a_scan_id_twice_keeps_the_first(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        save_scan(session=s, record=make_record("dup", detections=Detections([[0, 0, 1, 1]], [0.5], [1])))
    with sessions() as s:
        stored, created = save_scan(session=s, record=make_record("dup", verdict="hold"))
        assert not created and stored.verdict == "clear" and len(stored.detections) == 1
    with sessions() as s:
        with pytest.raises(ScanConflict, match="already taken"):
            save_scan(session=s, record=make_record("dup", sha="b" * 64))
    with sessions() as s:
        with pytest.raises(ScanConflict, match="already taken"):
            save_scan(session=s, record=make_record("dup", station="st-2"))
    with sessions() as s:
        assert s.query(ScanRecord).count() == 1


def test_list_filters_pages_and_counts(sessions: sessionmaker[Session]) -> None:
    firearm, knife = 0, 4
    with sessions() as s:
        for i in range(6):
            dets = Detections([[0, 0, 5, 5]], [0.9], [firearm if i % 2 else knife])
            save_scan(session=s, record=make_record(f"l{i}", station="a" if i < 4 else "b", verdict="hold" if i % 2 else "inspect",
                                                    at=T0 + timedelta(minutes=i), detections=dets))
        save_scan(session=s, record=make_record("l-clear", station="b", at=T0 + timedelta(minutes=10)))

    def ids(**where) -> tuple[list[str], int]:
        limit, offset = where.pop("limit", 50), where.pop("offset", 0)
        with sessions() as s:
            records, total = list_scans(session=s, where=ScanFilter(**where), limit=limit, offset=offset)
            return [r.id for r in records], total

    assert ids() == (["l-clear", "l5", "l4", "l3", "l2", "l1", "l0"], 7)
    assert ids(limit=2, offset=1) == (["l5", "l4"], 7)
    assert ids(verdict="hold") == (["l5", "l3", "l1"], 3)
    assert ids(class_id=knife) == (["l4", "l2", "l0"], 3)
    assert ids(station="b") == (["l-clear", "l5", "l4"], 3)
    assert ids(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)) == (["l3", "l2"], 2)
    assert ids(station="a", class_id=firearm, verdict="hold") == (["l3", "l1"], 2)


def test_reviews_are_kept_and_the_latest_counts(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        save_scan(session=s, record=make_record("rv1"))
        save_scan(session=s, record=make_record("rv2", at=T0 + timedelta(minutes=1)))
        save_scan(session=s, record=make_record("never-reviewed"))
        _, o1 = create_officer(session=s, name="o1")
        _, o2 = create_officer(session=s, name="o2")
        add_review(session=s, scan_id="rv1", officer_id=o1.id, officer="o1", outcome="threat_confirmed", class_ids=[0], boxes=None, note=None)
        add_review(session=s, scan_id="rv1", officer_id=o2.id, officer="o2", outcome="false_alarm", class_ids=[], boxes=None, note="toy")
        add_review(session=s, scan_id="rv2", officer_id=o1.id, officer="o1", outcome="threat_confirmed", class_ids=[5],
                   boxes=[{"class_id": 5, "box": [1.0, 2.0, 3.0, 4.0]}], note=None)
        with pytest.raises(ScanNotFound):
            add_review(session=s, scan_id="nope", officer_id=o1.id, officer="o1", outcome="false_alarm", class_ids=[], boxes=None, note=None)
    with sessions() as s:
        assert [r.outcome for r in get_scan(session=s, scan_id="rv1").reviews] == ["threat_confirmed", "false_alarm"]
        latest = [(scan.id, review.outcome, review.officer, review.officer_id) for scan, review in reviewed_scans(session=s)]
        assert latest == [("rv1", "false_alarm", "o2", o2.id), ("rv2", "threat_confirmed", "o1", o1.id)]


def test_queue_is_unreviewed_holds_then_inspects_oldest_first(sessions: sessionmaker[Session]) -> None:
    knife = 5
    with sessions() as s:
        for i, (verdict, station) in enumerate([("inspect", "a"), ("hold", "b"), ("clear", "a"), ("hold", "a"), ("inspect", "b"), ("hold", "a")]):
            dets = Detections([[1, 2, 30, 40]], [0.5], [knife]) if i % 2 else None
            save_scan(session=s, record=make_record(f"q{i}", station=station, verdict=verdict, at=T0 + timedelta(minutes=i), detections=dets))
        _, officer = create_officer(session=s, name="desk-1")
        add_review(session=s, scan_id="q5", officer_id=officer.id, officer="desk-1", outcome="false_alarm", class_ids=[], boxes=None, note=None)

    def ids(**where: object) -> tuple[list[str], int]:
        with sessions() as s:
            page, total = queue_scans(session=s, where=ScanFilter(**where), limit=50, offset=0)  # type: ignore[arg-type]  # test table of filters
            return [r.id for r in page], total

    assert ids() == (["q1", "q3", "q0", "q4"], 4)  # q5 is reviewed, q2 is clear
    assert ids(station="a") == (["q3", "q0"], 2)
    assert ids(verdict="inspect") == (["q0", "q4"], 2)
    assert ids(verdict="clear") == ([], 0)
    assert ids(class_id=knife) == (["q1", "q3"], 2)
    assert ids(since=T0 + timedelta(minutes=2)) == (["q3", "q4"], 2)
