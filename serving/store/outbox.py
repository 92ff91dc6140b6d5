"""Reading and requeueing the webhook outbox (the worker that sends it is `serving/webhooks.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from xscreen.errors import DeliveryNotDead, DeliveryNotFound
from xscreen.serving.store.db import page
from xscreen.serving.store.records import OutboxRecord


@dataclass(frozen=True)
class DeliveryFilter:
    status: str | None = None
    case_id: str | None = None
    receiver: str | None = None


def list_deliveries(*, session: Session, where: DeliveryFilter, limit: int, offset: int) -> tuple[list[OutboxRecord], int]:
    query = select(OutboxRecord)
    if where.status is not None:
        query = query.where(OutboxRecord.status == where.status)
    if where.case_id is not None:
        query = query.where(OutboxRecord.case_id == where.case_id)
    if where.receiver is not None:
        query = query.where(OutboxRecord.receiver == where.receiver)
    return page(session, query, (OutboxRecord.id.desc(),), limit, offset)


def get_delivery(*, session: Session, row_id: int) -> OutboxRecord:
    row = session.get(OutboxRecord, row_id)
    if row is None:
        raise DeliveryNotFound(f"no delivery with id {row_id}")
    return row


def requeue(*, session: Session, row: OutboxRecord, now: datetime) -> OutboxRecord:
    """A dead letter back to pending, due now, its attempts reset (the caller commits)."""
    if row.status != "dead":
        raise DeliveryNotDead(f"delivery {row.id} is {row.status}; only a dead one is sent again")
    row.status, row.attempts, row.next_attempt_at = "pending", 0, now
    session.flush()
    return row
