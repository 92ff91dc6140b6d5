"""`/v1/cases`: investigations opened by holds, for signed-in officers (a station key is refused, 403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from xscreen.serving.api.convert import case_out
from xscreen.serving.api.deps import OfficerDep, ServiceDep, SessionDep
from xscreen.serving.api.schemas import CaseChangeIn, CaseOut, CasePage, CaseQuery
from xscreen.serving.store.cases import CaseFilter, change_state, get_case, list_cases
from xscreen.serving.store.records import utcnow

router = APIRouter(prefix="/cases", tags=["cases"])


@router.get("", response_model=CasePage, summary="List cases, newest first")
def list_cases_route(service: ServiceDep, session: SessionDep, officer: OfficerDep, q: Annotated[CaseQuery, Query()]) -> CasePage:
    where = CaseFilter(state=q.state, category=q.category, since=q.since, until=q.until, item_ref=q.item_ref)
    records, total = list_cases(session=session, where=where, limit=q.limit, offset=q.offset)
    base = service.settings.public_url or ""
    return CasePage(items=[case_out(c, service.taxonomy, base) for c in records], total=total, limit=q.limit, offset=q.offset)


@router.get("/{case_id}", response_model=CaseOut, summary="One case: its scans, detections, decisions, links and history",
            responses={404: {"description": "Unknown case"}})
def get_case_route(case_id: str, service: ServiceDep, session: SessionDep, officer: OfficerDep) -> CaseOut:
    return case_out(get_case(session=session, case_id=case_id), service.taxonomy, service.settings.public_url or "")


@router.post(
    "/{case_id}/state",
    response_model=CaseOut,
    summary="Move a case: assign it, then seize or release",
    description="open -> assigned (with `assignee`), assigned -> assigned (re-assign), seized or released. Each change is kept "
    "in the case's history with who made it and when, and notifies the webhook receivers (event `case.state_changed`).",
    responses={404: {"description": "Unknown case"}, 409: {"description": "The case's state does not allow this change"}},
)
def change_case_state(case_id: str, change: CaseChangeIn, service: ServiceDep, session: SessionDep, officer: OfficerDep) -> CaseOut:
    case = get_case(session=session, case_id=case_id)
    change_state(session=session, case=case, state=change.state, actor=f"officer:{officer.name}", assignee=change.assignee,
                 note=change.note, now=utcnow())
    service.notify(session, case, "case.state_changed")
    session.commit()
    service.committed(["case.state_changed"])
    return case_out(case, service.taxonomy, service.settings.public_url or "")
