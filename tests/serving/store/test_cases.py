"""Cases on SQLite and PostgreSQL: opened in the scan's transaction with its outbox row, one case per open
parcel even when two holds race, states, filters."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.serving.store.test_scans import T0, make_record
from xscreen.errors import CaseStateConflict
from xscreen.serving.store.cases import CaseFilter, change_state, get_case, list_cases, open_or_attach
from xscreen.serving.store.records import CaseRecord, OutboxRecord, ScanRecord
from xscreen.serving.store.scans import save_scan
from xscreen.serving.webhooks import enqueue
from xscreen.settings import WebhookReceiver

RECEIVERS = [WebhookReceiver(name="inv", url="https://inv.example/h", secret="s" * 20)]  # type: ignore[arg-type]


def hold(sessions: sessionmaker[Session], scan_id: str, item_ref: str | None, *, fail: bool = False, at_s: float = 0) -> bool:
    """Save a held scan the way the service does: its case and outbox row inside the scan's transaction."""
    record = make_record(scan_id, verdict="hold", at=T0 + timedelta(seconds=at_s))
    record.item_ref = item_ref

    def within(session: Session, stored: ScanRecord) -> None:
        case, event = open_or_attach(session=session, scan=stored, categories=["firearms"], now=stored.received_at)
        enqueue(session=session, receivers=RECEIVERS, event=event, case_id=case.id, payload={"scan_id": stored.id}, now=stored.received_at)
        if fail:
            raise RuntimeError("the process dies before the commit")

    with sessions() as session:
        return save_scan(session=session, record=record, within=within)[1]


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as s:
        return s.query(ScanRecord).count(), s.query(CaseRecord).count(), s.query(OutboxRecord).count()


def test_a_case_and_its_outbox_row_commit_with_the_scan_or_not_at_all(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError):
        hold(sessions, "lost", "P-1", fail=True)
    assert counts(sessions) == (0, 0, 0)
    assert hold(sessions, "kept", "P-1")
    assert counts(sessions) == (1, 1, 1)


def test_one_open_case_per_parcel_and_a_new_one_once_closed(sessions: sessionmaker[Session]) -> None:
    hold(sessions, "a", "P-1")
    hold(sessions, "b", "P-1", at_s=1)
    hold(sessions, "c", None, at_s=2)
    hold(sessions, "d", None, at_s=3)
    with sessions() as s:
        (p1,) = list_cases(session=s, where=CaseFilter(item_ref="P-1"), limit=10, offset=0)[0]
        assert [link.scan_id for link in p1.scans] == ["a", "b"] and [e.event for e in p1.events] == ["case.opened", "case.scan_attached"]
        assert list_cases(session=s, where=CaseFilter(), limit=10, offset=0)[1] == 3  # scans without item_ref: a case each
        with pytest.raises(CaseStateConflict):
            change_state(session=s, case=p1, state="released", actor="officer:x", assignee=None, note=None, now=T0)
        change_state(session=s, case=p1, state="assigned", actor="officer:x", assignee="team-2", note=None, now=T0)
        change_state(session=s, case=p1, state="released", actor="officer:x", assignee=None, note="toy", now=T0)
        s.commit()
    hold(sessions, "e", "P-1", at_s=4)
    with sessions() as s:
        cases, total = list_cases(session=s, where=CaseFilter(item_ref="P-1"), limit=10, offset=0)
        assert total == 2 and [c.state for c in cases] == ["open", "released"]  # newest first
        assert get_case(session=s, case_id=cases[0].id).scans[0].scan_id == "e"
        assert list_cases(session=s, where=CaseFilter(category="firearms"), limit=10, offset=0)[1] == 4
        assert list_cases(session=s, where=CaseFilter(category="drugs"), limit=10, offset=0)[1] == 0
        assert list_cases(session=s, where=CaseFilter(state="released"), limit=10, offset=0)[1] == 1
        assert list_cases(session=s, where=CaseFilter(since=T0 + timedelta(seconds=2)), limit=10, offset=0)[1] == 3
        assert len(list_cases(session=s, where=CaseFilter(), limit=2, offset=3)[0]) == 1


def test_two_holds_of_one_parcel_at_once_make_one_case(sessions: sessionmaker[Session]) -> None:
    """Both transactions may look for the parcel's case before either commits; the unique open_item_ref refuses
    the second case, and save_scan's retry attaches that scan instead."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            hold(sessions, f"race-{i}", "P-RACE", at_s=i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with sessions() as s:
        (case,) = s.query(CaseRecord).all()
        assert sorted(link.scan_id for link in case.scans) == [f"race-{i}" for i in range(4)]
        assert s.query(OutboxRecord).count() == 4  # one notification per event: opened, then three attachments
