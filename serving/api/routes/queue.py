"""`/v1/queue`: the scans waiting for an officer (`serving.store.scans.queue_scans`), for the workstation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from xscreen.errors import InvalidRequest
from xscreen.serving.api.convert import class_id_of, scan_out
from xscreen.serving.api.deps import OfficerDep, ServiceDep, SessionDep
from xscreen.serving.api.schemas import ScanPage, ScanQuery
from xscreen.serving.store.scans import ScanFilter, queue_scans

router = APIRouter(tags=["reviews"])


@router.get("/queue", response_model=ScanPage, summary="Unreviewed hold and inspect scans: hold first, then inspect, oldest first (officers)")
def queue(service: ServiceDep, session: SessionDep, officer: OfficerDep, q: Annotated[ScanQuery, Query()]) -> ScanPage:
    if q.reviewed is not None:
        raise InvalidRequest("the queue holds only scans not reviewed yet; list reviewed ones with GET /v1/scans?reviewed=true")
    class_id = class_id_of(service.taxonomy, q.class_name) if q.class_name is not None else None
    where = ScanFilter(verdict=q.verdict, class_id=class_id, station=q.station, since=q.since, until=q.until, item_ref=q.item_ref)
    records, total = queue_scans(session=session, where=where, limit=q.limit, offset=q.offset)
    return ScanPage(items=[scan_out(r, service.taxonomy) for r in records], total=total, limit=q.limit, offset=q.offset)
