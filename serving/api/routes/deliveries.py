"""`/v1/deliveries`: the webhook outbox, dead letters included (officers), and sending a dead letter again (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from xscreen.serving.api.convert import delivery_out
from xscreen.serving.api.deps import AdminDep, OfficerDep, ServiceDep, SessionDep
from xscreen.serving.api.schemas import DeliveryOut, DeliveryPage, DeliveryQuery
from xscreen.serving.store.outbox import DeliveryFilter, get_delivery, list_deliveries, requeue
from xscreen.serving.store.records import utcnow

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


@router.get("", response_model=DeliveryPage, summary="Webhook deliveries, newest first (status=dead: the dead letters)")
def list_deliveries_route(session: SessionDep, officer: OfficerDep, q: Annotated[DeliveryQuery, Query()]) -> DeliveryPage:
    where = DeliveryFilter(status=q.status, case_id=q.case_id, receiver=q.receiver)
    rows, total = list_deliveries(session=session, where=where, limit=q.limit, offset=q.offset)
    return DeliveryPage(items=[delivery_out(r) for r in rows], total=total, limit=q.limit, offset=q.offset)


@router.post(
    "/{id}/retry",
    response_model=DeliveryOut,
    summary="Send a dead letter again",
    description="Puts a dead delivery back in the queue with its attempts reset and the same delivery id (the receiver "
    "may have seen it). Refused (409) for a delivery that is not dead.",
    responses={404: {"description": "Unknown delivery"}, 409: {"description": "The delivery is not dead"}},
)
def retry_delivery(id: int, service: ServiceDep, session: SessionDep, admin: AdminDep) -> DeliveryOut:
    row = requeue(session=session, row=get_delivery(session=session, row_id=id), now=utcnow())
    session.commit()
    service.deliveries.wake()
    return delivery_out(row)
