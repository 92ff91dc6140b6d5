"""The webhook delivery worker, attempt by attempt: a fake clock and an in-memory transport, no sleeping."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from xscreen.serving.metrics import ServiceMetrics
from xscreen.serving.store.db import open_database
from xscreen.serving.store.outbox import requeue
from xscreen.serving.store.records import OutboxRecord
from xscreen.serving.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, Attempt, Backoff, DeliveryWorker, enqueue, verify
from xscreen.settings import WebhookReceiver

SECRET = "a-secret-of-32-characters-at-lea"
START = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Receiver:
    """An in-memory receiver (httpx.MockTransport): down (connection refused) or up, and what it got."""

    def __init__(self) -> None:
        self.up = False
        self.status = 200
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests.append(request)
        return httpx.Response(self.status)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine, factory = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield factory
    engine.dispose()


def receivers(*names: str) -> list[WebhookReceiver]:
    return [WebhookReceiver(name=n, url=f"https://{n}.example/hook", secret=SECRET) for n in names]  # type: ignore[arg-type]


def worker(sessions: sessionmaker[Session], clock: Clock, receiver: Receiver, *, names: tuple[str, ...] = ("inv",),
           max_attempts: int = 5, metrics: ServiceMetrics | None = None) -> DeliveryWorker:
    return DeliveryWorker(sessions=sessions, receivers=receivers(*names), metrics=metrics or ServiceMetrics(), max_attempts=max_attempts,
                          backoff=Backoff(1.0, 8.0, random.Random(0)), timeout_s=5.0, poll_s=1.0, clock=clock,
                          transport=httpx.MockTransport(receiver))


def owe(sessions: sessionmaker[Session], names: tuple[str, ...] = ("inv",)) -> str:
    with sessions() as session:
        delivery_id = enqueue(session=session, receivers=receivers(*names), event="case.opened", case_id="case-1",
                              payload={"case": {"case_id": "case-1", "scan_ids": ["s-1"]}, "scan_id": "s-1"}, now=START)
        session.commit()
    assert delivery_id is not None
    return delivery_id


def rows(sessions: sessionmaker[Session]) -> list[OutboxRecord]:
    with sessions() as session:
        return list(session.query(OutboxRecord).order_by(OutboxRecord.id).all())


def run(w: DeliveryWorker, *steps: tuple[Clock, float] | None) -> list[list[Attempt]]:
    """Start `w`, then for each step advance the clock (when given) and make one pass; stop."""
    async def go() -> list[list[Attempt]]:
        await w.start(background=False)
        try:
            out = []
            for step in steps:
                if step is not None:
                    step[0].advance(step[1])
                out.append(await w.run_once())
            return out
        finally:
            await w.stop()

    return asyncio.run(go())


def test_down_then_up_delivers_once_with_the_same_id_and_a_valid_signature(sessions: sessionmaker[Session]) -> None:
    clock, receiver, metrics = Clock(), Receiver(), ServiceMetrics()
    delivery_id = owe(sessions)
    w = worker(sessions, clock, receiver, metrics=metrics)
    first, not_yet = run(w, None, None)
    assert [a.outcome for a in first] == ["retry"] and not_yet == []  # backed off: nothing due at the same instant
    (row,) = rows(sessions)
    assert row.attempts == 1 and row.status == "pending" and "ConnectError" in (row.last_error or "")
    wait = (row.next_attempt_at - START).total_seconds()
    assert 0.5 <= wait <= 1.0  # base 1 s, equal jitter
    receiver.up = True
    (second,) = run(w, (clock, wait))
    assert [a.outcome for a in second] == ["delivered"]
    (request,) = receiver.requests
    body = request.content
    assert request.headers[DELIVERY_HEADER] == delivery_id and verify(body, request.headers[SIGNATURE_HEADER], SECRET)
    assert not verify(body + b" ", request.headers[SIGNATURE_HEADER], SECRET) and not verify(body, request.headers[SIGNATURE_HEADER], "x" * 32)
    document = json.loads(body)
    assert document["delivery_id"] == delivery_id and document["event"] == "case.opened" and document["case"]["scan_ids"] == ["s-1"]
    assert datetime.fromisoformat(document["sent_at"]) == clock.now  # the send time, inside the signed body
    assert run(w, (clock, 3600)) == [[]]  # delivered: never again
    (row,) = rows(sessions)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 2, clock.now - timedelta(seconds=3600))
    text = metrics.render().decode()
    assert 'xscreen_webhook_attempts_total{outcome="retry",receiver="inv"} 1.0' in text
    assert 'xscreen_webhook_attempts_total{outcome="delivered",receiver="inv"} 1.0' in text
    assert 'xscreen_webhook_outbox{receiver="inv",status="delivered"} 1.0' in text


def test_a_dead_letter_after_max_attempts_shows_in_metrics_and_can_be_sent_again(sessions: sessionmaker[Session]) -> None:
    clock, receiver, metrics = Clock(), Receiver(), ServiceMetrics()
    receiver.up, receiver.status = True, 500  # up but failing: every attempt is an HTTP 500
    owe(sessions)
    w = worker(sessions, clock, receiver, max_attempts=3, metrics=metrics)
    passes = run(w, None, (clock, 60), (clock, 60), (clock, 3600))
    assert [[a.outcome for a in p] for p in passes] == [["retry"], ["retry"], ["dead"], []]
    (row,) = rows(sessions)
    assert (row.status, row.attempts, row.last_error) == ("dead", 3, "HTTP 500")
    assert len({r.headers[DELIVERY_HEADER] for r in receiver.requests}) == 1 and len(receiver.requests) == 3  # one id, every attempt
    text = metrics.render().decode()
    assert 'xscreen_webhook_outbox{receiver="inv",status="dead"} 1.0' in text
    assert 'xscreen_webhook_attempts_total{outcome="dead",receiver="inv"} 1.0' in text
    with sessions() as session:
        requeue(session=session, row=session.get(OutboxRecord, row.id), now=clock.now)  # type: ignore[arg-type]
        session.commit()
    receiver.status = 204
    (again,) = run(w, None)
    assert [a.outcome for a in again] == ["delivered"] and rows(sessions)[0].status == "delivered"


def test_each_receiver_has_its_own_retries(sessions: sessionmaker[Session]) -> None:
    clock, receiver = Clock(), Receiver()
    receiver.up = True
    owe(sessions, ("a", "b"))
    w = worker(sessions, clock, receiver, names=("a",))  # b was removed from the settings since
    (attempts,) = run(w, None)
    assert sorted((a.receiver, a.outcome) for a in attempts) == [("a", "delivered"), ("b", "dead")]
    assert "no longer configured" in (next(r for r in rows(sessions) if r.receiver == "b").last_error or "")


def test_a_claimed_row_is_not_sent_by_a_second_worker_until_its_lease_runs_out(sessions: sessionmaker[Session]) -> None:
    clock = Clock()
    owe(sessions)
    a, b = worker(sessions, clock, Receiver()), worker(sessions, clock, Receiver())
    assert len(a._claim()) == 1  # a crashes here, mid-send
    assert b._claim() == []
    clock.advance(5.0 + 5.0)  # timeout_s + the slack
    assert len(b._claim()) == 1  # comes due again by itself: at least once


@pytest.mark.parametrize("attempts", range(1, 12))
def test_backoff_doubles_up_to_the_cap_with_jitter(attempts: int) -> None:
    backoff = Backoff(base_s=1.0, max_s=30.0, rng=random.Random(attempts))
    ceiling = min(30.0, 2.0 ** (attempts - 1))
    for _ in range(50):
        assert ceiling / 2 <= backoff.delay_s(attempts) <= ceiling


def test_nothing_is_owed_without_receivers(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert enqueue(session=session, receivers=[], event="case.opened", case_id="c", payload={}, now=START) is None
        session.commit()
    assert rows(sessions) == []
