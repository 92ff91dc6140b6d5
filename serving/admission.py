"""Admission of scans: how many may be in flight and how many bytes they may hold, decided before a body is read.

Every scan holds its uploaded bytes and its decoded pixels from the moment it is admitted until it is
answered. Counting scans (the queue) did not bound that: eight 8944 x 8944 solid PNGs of 250 KB each took
RSS from 0.8 to 5 GB (issue 19.2). And refusing only once the queue was found full, after the body was read
and decoded, made 429s take 1.9 s at p50 under 128 clients (issue 19.3).

So `Admission.admit` runs first on `POST /v1/scans`, before authentication reads the database and before
the body is read: it refuses at once (429, `Retry-After`) while `max_scans_in_flight` scans are in flight,
the engine queue is full, or the declared body does not fit in what is left of `max_scan_bytes_in_flight`.
The admitted request gets a `Ticket`; it reserves its body's bytes, then the decoder reserves the decoded
size it read from the image header, before any pixel is inflated (`vision.io.read_scan(reserve=...)`);
the ticket gives everything back when the request is answered. A scan that fits alone is always admitted
when nothing else is in flight (the settings check `max_scan_bytes_in_flight` against the per-scan limits).
"""

from __future__ import annotations

import threading
from typing import Callable

from xscreen.errors import QueueFull


class ByteBudget:
    """A count of bytes reserved out of `capacity`, shared by the event loop and the decode threads."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1 byte, got {capacity!r}")
        self.capacity = capacity
        self._in_use = 0
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        return self._in_use

    def try_reserve(self, nbytes: int) -> bool:
        with self._lock:
            if self._in_use + nbytes > self.capacity:
                return False
            self._in_use += nbytes
            return True

    def release(self, nbytes: int) -> None:
        with self._lock:
            self._in_use -= nbytes


class Ticket:
    """What one admitted request holds: its bytes in the budget and (for scans) its place among those in flight."""

    def __init__(self, admission: Admission, *, counted: bool) -> None:
        self._admission = admission
        self._counted = counted
        self.held = 0
        self._closed = False

    def reserve(self, nbytes: int) -> None:
        """Hold `nbytes` more, or raise `QueueFull` (429) when the service's budget has no room for them now."""
        budget = self._admission.budget
        if not budget.try_reserve(nbytes):
            raise QueueFull(
                f"scans in flight already hold {budget.in_use:,} of {budget.capacity:,} bytes (max_scan_bytes_in_flight); "
                f"this one needs {nbytes:,} more; retry shortly"
            )
        self.held += nbytes

    def release(self) -> None:
        """Give back everything held (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._admission.budget.release(self.held)
        self.held = 0
        if self._counted:
            self._admission._leave()


class Admission:
    def __init__(self, *, max_scans_in_flight: int, max_bytes_in_flight: int, queue_full: Callable[[], bool]) -> None:
        if max_scans_in_flight < 1:
            raise ValueError(f"max_scans_in_flight must be >= 1, got {max_scans_in_flight!r}")
        self.max_scans_in_flight = max_scans_in_flight
        self.budget = ByteBudget(max_bytes_in_flight)
        self._queue_full = queue_full
        self._in_flight = 0  # changed on the event loop only (admit, and release from the request's task)

    @property
    def scans_in_flight(self) -> int:
        return self._in_flight

    def admit(self, *, declared_bytes: int | None) -> Ticket:
        """A ticket for one scan upload, or `QueueFull` at once; call before the body is read."""
        if self._in_flight >= self.max_scans_in_flight:
            raise QueueFull(f"{self._in_flight} scans are already in flight (max_scans_in_flight {self.max_scans_in_flight}); retry shortly")
        if self._queue_full():
            raise QueueFull("the engine queue is full (max_queue_size); retry shortly")
        self._in_flight += 1
        ticket = Ticket(self, counted=True)
        try:
            if declared_bytes:
                ticket.reserve(declared_bytes)
        except QueueFull:
            ticket.release()
            raise
        return ticket

    def ticket(self) -> Ticket:
        """A ticket for decoding outside a scan upload (a stored image drawn for `/annotated`): bytes only."""
        return Ticket(self, counted=False)

    def _leave(self) -> None:
        self._in_flight -= 1
