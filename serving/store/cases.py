"""Investigation cases (our crud.py for them): opened by a hold, in the scan's own transaction.

A hold in a category the policy names (`Policy.case_categories_of`) opens a case, or attaches the scan to the
open case of its parcel (`item_ref`): one parcel under investigation is one case however many scans it gets.
A scan without `item_ref` opens a case of its own (nothing says which parcel it is). States move
open -> assigned -> seized | released (re-assigning an assigned case is allowed); each step is a
`CaseEventRecord` with who and when. A closed case no longer collects scans: the next hold of that parcel
opens a new one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from xscreen.errors import CaseNotFound, CaseStateConflict
from xscreen.serving.store.db import page
from xscreen.serving.store.records import CaseEventRecord, CaseRecord, CaseScanRecord, ScanRecord

CaseState = Literal["open", "assigned", "seized", "released"]
CASE_STATES: tuple[CaseState, ...] = ("open", "assigned", "seized", "released")
OPEN_STATES: tuple[CaseState, ...] = ("open", "assigned")
# state -> the states it may move to
TRANSITIONS: dict[str, tuple[CaseState, ...]] = {"open": ("assigned",), "assigned": ("assigned", "seized", "released"), "seized": (), "released": ()}
CaseEvent = Literal["case.opened", "case.scan_attached", "case.state_changed"]


def new_case_id() -> str:
    return f"case-{secrets.token_hex(8)}"


def open_or_attach(*, session: Session, scan: ScanRecord, categories: list[str], now: datetime) -> tuple[CaseRecord, CaseEvent]:
    """Within the caller's transaction (nothing is committed here): the open case of the scan's parcel with the
    scan attached, or a new case. Two concurrent holds of one parcel both try a new case; the unique
    `open_item_ref` refuses the second at commit, and `save_scan` retries it, which then attaches."""
    case = None
    if scan.item_ref is not None:
        case = session.scalars(select(CaseRecord).where(CaseRecord.open_item_ref == scan.item_ref)).first()
    if case is None:
        case = CaseRecord(id=new_case_id(), item_ref=scan.item_ref, open_item_ref=scan.item_ref, station=scan.station, state="open",
                          categories=sorted(categories), opened_at=now, updated_at=now)
        session.add(case)
        event: CaseEvent = "case.opened"
    else:
        case.categories = sorted(set(case.categories) | set(categories))
        case.updated_at = now
        event = "case.scan_attached"
    case.scans.append(CaseScanRecord(case_id=case.id, scan_id=scan.id, attached_at=now, scan=scan))
    case.events.append(CaseEventRecord(case_id=case.id, event=event, state=case.state, actor=f"station:{scan.station}", scan_id=scan.id, at=now))
    session.flush()
    return case, event


def get_case(*, session: Session, case_id: str) -> CaseRecord:
    case = session.get(CaseRecord, case_id)
    if case is None:
        raise CaseNotFound(f"no case with id {case_id!r}")
    return case


def change_state(*, session: Session, case: CaseRecord, state: CaseState, actor: str, assignee: str | None, note: str | None,
                 now: datetime) -> CaseRecord:
    """Move `case` to `state` within the caller's transaction; CaseStateConflict (409) when the move is not allowed."""
    if state not in TRANSITIONS[case.state]:
        allowed = ", ".join(TRANSITIONS[case.state]) or "none (it is closed)"
        raise CaseStateConflict(f"case {case.id} is {case.state}; it can move to: {allowed}")
    if state == "assigned":
        if not assignee:
            raise CaseStateConflict(f"assigning case {case.id} needs the assignee")
        case.assignee = assignee
    case.state = state
    if state not in OPEN_STATES:
        case.open_item_ref = None  # closed: the parcel's next hold opens a new case
    case.updated_at = now
    case.events.append(CaseEventRecord(case_id=case.id, event="case.state_changed", state=state, actor=actor, note=note, at=now))
    session.flush()
    return case


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    category: str | None = None
    since: datetime | None = None  # opened at or after
    until: datetime | None = None  # opened before
    item_ref: str | None = None


def list_cases(*, session: Session, where: CaseFilter, limit: int, offset: int) -> tuple[list[CaseRecord], int]:
    """One page of cases, newest first, and the total matching."""
    query = select(CaseRecord)
    if where.state is not None:
        query = query.where(CaseRecord.state == where.state)
    if where.since is not None:
        query = query.where(CaseRecord.opened_at >= where.since)
    if where.until is not None:
        query = query.where(CaseRecord.opened_at < where.until)
    if where.item_ref is not None:
        query = query.where(CaseRecord.item_ref == where.item_ref)
    if where.category is not None:
        # categories is a JSON list of plain words; its text holds the quoted name on SQLite and PostgreSQL alike
        query = query.where(cast(CaseRecord.categories, String).like(f'%"{where.category}"%'))
    return page(session, query, (CaseRecord.opened_at.desc(), CaseRecord.id.desc()), limit, offset)
