"""Case notifications investigators can rely on: a transactional outbox and a delivery worker.

- `enqueue` writes one `OutboxRecord` per configured receiver in the transaction that opened or changed the
  case, so a notification exists exactly when its case does (a crash between the two cannot lose one).
- `DeliveryWorker` (started by the app's lifespan) claims due rows, POSTs them and records the outcome:
  delivered on a 2xx; otherwise the next attempt after an exponential backoff with jitter; a dead letter
  after `webhook_max_attempts` (listed by `GET /v1/deliveries?status=dead`, counted in /metrics). Rows live
  in the database, so a restart resumes where the last process stopped.
- At least once: a retry carries the same `X-Xscreen-Delivery` id, so a receiver drops what it has seen.
- Each POST body is JSON holding the delivery id, the event, `sent_at` (the send time, inside the signed
  body: a receiver refuses old bodies, against replay) and the case; `X-Xscreen-Signature` is
  `sha256=<hex HMAC-SHA256 of the raw body with the receiver's secret>` (`sign`, `verify`).

Clock, randomness and HTTP transport are injectable, so tests run attempts one by one without sleeping.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from xscreen.serving.metrics import ServiceMetrics
from xscreen.serving.store.records import OutboxRecord, utcnow
from xscreen.settings import Settings, WebhookReceiver

logger = logging.getLogger(__name__)

DELIVERY_HEADER = "X-Xscreen-Delivery"
SIGNATURE_HEADER = "X-Xscreen-Signature"
EVENT_HEADER = "X-Xscreen-Event"
CLAIM_BATCH = 32
LEASE_SLACK_S = 5.0  # beyond the send's timeout: how long a claimed row stays with its worker


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str, secret: str) -> bool:
    """What a receiver does with the raw body and the X-Xscreen-Signature header (constant-time compare)."""
    return hmac.compare_digest(sign(body, secret), signature)


def enqueue(*, session: Session, receivers: list[WebhookReceiver], event: str, case_id: str | None, payload: dict[str, Any],
            now: datetime) -> str | None:
    """Outbox rows for `event` (one per receiver, one delivery id for all), in the caller's transaction.
    Returns the delivery id, or None when no receiver is configured (nothing to owe)."""
    if not receivers:
        return None
    delivery_id = uuid.uuid4().hex
    for receiver in receivers:
        session.add(OutboxRecord(delivery_id=delivery_id, receiver=receiver.name, event=event, case_id=case_id, payload=payload,
                                 status="pending", attempts=0, created_at=now, next_attempt_at=now))
    return delivery_id


def body_of(row: OutboxRecord, sent_at: datetime) -> bytes:
    """The exact bytes that are signed and sent."""
    document = {"delivery_id": row.delivery_id, "event": row.event, "sent_at": sent_at.isoformat(), **row.payload}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": base * 2^(n-1), capped, then between half and all of it, so
    receivers coming back are not hit by every service instance at the same instant."""

    base_s: float
    max_s: float
    rng: random.Random

    def delay_s(self, attempts: int) -> float:
        ceiling = min(self.max_s, self.base_s * 2.0 ** max(0, attempts - 1))
        return ceiling * self.rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Attempt:
    row_id: int
    receiver: str
    outcome: str  # delivered | retry | dead
    error: str | None


class DeliveryWorker:
    def __init__(self, *, sessions: sessionmaker[Session], receivers: list[WebhookReceiver], metrics: ServiceMetrics, max_attempts: int,
                 backoff: Backoff, timeout_s: float, poll_s: float, clock: Callable[[], datetime] = utcnow,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.sessions = sessions
        self.receivers = {r.name: r for r in receivers}
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.clock = clock
        self.transport = transport
        self._wake: asyncio.Event | None = None
        self._loop_of_worker: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, sessions: sessionmaker[Session], metrics: ServiceMetrics) -> "DeliveryWorker":
        return cls(sessions=sessions, receivers=settings.receivers, metrics=metrics, max_attempts=settings.webhook_max_attempts,
                   backoff=Backoff(settings.webhook_backoff_base_s, settings.webhook_backoff_max_s, random.Random()),
                   timeout_s=settings.webhook_timeout_s, poll_s=settings.webhook_poll_s)

    # The loop --------------------------------------------------------------------------------------------
    async def start(self, *, background: bool = True) -> None:
        """Open the HTTP client and, with `background`, run passes until `stop` (tests call `run_once` themselves)."""
        self._client = httpx.AsyncClient(timeout=self.timeout_s, transport=self.transport, follow_redirects=False)
        self._wake, self._loop_of_worker = asyncio.Event(), asyncio.get_running_loop()
        await asyncio.to_thread(self.refresh_gauges)
        if background:
            self._task = asyncio.create_task(self._loop(), name="webhook-deliveries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()  # a send cut short keeps its lease and comes due again: at least once
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """A new row is waiting (after a commit that enqueued one): look now, not at the next poll. Callable from
        any thread (route handlers run in the thread pool)."""
        if self._loop_of_worker is not None and self._wake is not None and not self._loop_of_worker.is_closed():
            self._loop_of_worker.call_soon_threadsafe(self._wake.set)

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            try:
                done = await self.run_once()
            except Exception:  # noqa: BLE001 - the database went away for a moment: log, wait, try again
                logger.exception("webhook delivery pass failed")
                done = []
            if not done:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()

    # One pass ------------------------------------------------------------------------------------------
    async def run_once(self) -> list[Attempt]:
        """Claim the rows due now, send each once, record the outcomes; the attempts made (none: nothing due)."""
        if self._client is None:
            raise RuntimeError("DeliveryWorker.run_once before start()")
        rows = await asyncio.to_thread(self._claim)
        attempts = [await self._send(row) for row in rows]
        if attempts:
            await asyncio.to_thread(self._record, attempts)
        return attempts

    def _claim(self) -> list[OutboxRecord]:
        now = self.clock()
        lease_until = now + timedelta(seconds=self.timeout_s + LEASE_SLACK_S)
        with self.sessions() as session:
            due = select(OutboxRecord.id).where(OutboxRecord.status == "pending", OutboxRecord.next_attempt_at <= now)
            ids = list(session.scalars(due.order_by(OutboxRecord.next_attempt_at, OutboxRecord.id).limit(CLAIM_BATCH)).all())
            claimed = []
            for row_id in ids:
                # Conditional: of several instances on one database, only one moves a given row past now.
                result = session.execute(
                    update(OutboxRecord)
                    .where(OutboxRecord.id == row_id, OutboxRecord.status == "pending", OutboxRecord.next_attempt_at <= now)
                    .values(next_attempt_at=lease_until)
                )
                if getattr(result, "rowcount", 0) == 1:
                    claimed.append(row_id)
            session.commit()
            return list(session.scalars(select(OutboxRecord).where(OutboxRecord.id.in_(claimed)).order_by(OutboxRecord.id)).all())

    async def _send(self, row: OutboxRecord) -> Attempt:
        receiver = self.receivers.get(row.receiver)
        if receiver is None:
            return Attempt(row.id, row.receiver, "dead", f"receiver {row.receiver!r} is no longer configured")
        body = body_of(row, self.clock())
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: row.delivery_id,
            EVENT_HEADER: row.event,
            SIGNATURE_HEADER: sign(body, receiver.secret.get_secret_value()),
        }
        assert self._client is not None
        try:
            response = await self._client.post(receiver.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if response.is_success:
                return Attempt(row.id, row.receiver, "delivered", None)
            error = f"HTTP {response.status_code}"
        outcome = "dead" if row.attempts + 1 >= self.max_attempts else "retry"
        return Attempt(row.id, row.receiver, outcome, error)

    def _record(self, attempts: list[Attempt]) -> None:
        now = self.clock()
        with self.sessions() as session:
            for attempt in attempts:
                row = session.get(OutboxRecord, attempt.row_id)
                if row is None:
                    continue
                row.attempts += 1
                row.last_error = attempt.error
                if attempt.outcome == "delivered":
                    row.status, row.delivered_at = "delivered", now
                elif attempt.outcome == "dead":
                    row.status = "dead"
                    logger.error("webhook delivery %s to %s is a dead letter after %d attempts: %s",
                                 row.delivery_id, row.receiver, row.attempts, attempt.error)
                else:
                    row.next_attempt_at = now + timedelta(seconds=self.backoff.delay_s(row.attempts))
                self.metrics.webhook_attempts.labels(receiver=attempt.receiver, outcome=attempt.outcome).inc()
            session.commit()
        self.refresh_gauges()

    def refresh_gauges(self) -> None:
        """Rows per receiver and status, from the database (what survives restarts), into /metrics."""
        with self.sessions() as session:
            counts = session.execute(select(OutboxRecord.receiver, OutboxRecord.status, func.count()).group_by(OutboxRecord.receiver, OutboxRecord.status)).all()
        self.metrics.set_outbox([(r, s, n) for r, s, n in counts], self.receivers)
