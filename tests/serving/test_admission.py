"""Admission: scans in flight, engine queue and bytes in flight, each refusing at once; tickets give back all."""

from __future__ import annotations

import pytest

from xscreen.errors import QueueFull
from xscreen.serving.admission import Admission


def make(*, scans: int = 2, nbytes: int = 100, queue_full: bool = False) -> Admission:
    return Admission(max_scans_in_flight=scans, max_bytes_in_flight=nbytes, queue_full=lambda: queue_full)


@pytest.mark.parametrize(
    ("admission", "held", "declared", "message"),
    [
        (make(scans=2), [None, None], None, "2 scans are already in flight"),
        (make(queue_full=True), [], None, "engine queue is full"),
        (make(nbytes=100), [60], 41, "hold 60 of 100 bytes"),
        (make(nbytes=100), [], 101, "needs 101 more"),
    ],
    ids=["scans-in-flight", "queue-full", "bytes-in-flight", "larger-than-the-budget"],
)
def test_admission_refuses_at_once(admission: Admission, held: list[int | None], declared: int | None, message: str) -> None:
    tickets = [admission.admit(declared_bytes=n) for n in held]
    with pytest.raises(QueueFull, match=message):
        admission.admit(declared_bytes=declared)
    # a refusal holds nothing; releasing the admitted ones gives everything back, once
    assert admission.scans_in_flight == len(held) and admission.budget.in_use == sum(n or 0 for n in held)
    for ticket in tickets:
        ticket.release()
        ticket.release()
    assert admission.scans_in_flight == 0 and admission.budget.in_use == 0


def test_a_ticket_reserves_as_it_learns_sizes_and_releases_everything() -> None:
    admission = make(scans=4, nbytes=100)
    ticket = admission.admit(declared_bytes=30)  # the body, from Content-Length
    ticket.reserve(50)  # the decoded size, from the image header
    with pytest.raises(QueueFull):
        admission.admit(declared_bytes=21)
    with pytest.raises(QueueFull):
        ticket.reserve(21)
    assert ticket.held == 80 and admission.budget.in_use == 80
    drawing = admission.ticket()  # a stored image drawn for /annotated: bytes, not a scan in flight
    drawing.reserve(20)
    assert admission.scans_in_flight == 1 and admission.budget.in_use == 100
    ticket.release()
    drawing.release()
    assert admission.scans_in_flight == 0 and admission.budget.in_use == 0


@pytest.mark.parametrize(("kwargs", "message"), [({"max_scans_in_flight": 0}, "max_scans_in_flight"), ({"max_bytes_in_flight": 0}, "capacity")])
def test_bad_limits_fail_at_construction(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Admission(**{"max_scans_in_flight": 1, "max_bytes_in_flight": 1, "queue_full": lambda: False, **kwargs})
