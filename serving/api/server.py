"""How uvicorn runs the app: the one place `xscreen serve` and the live-server tests build its config.

uvicorn times out only idle keep-alive connections. A client that opens a connection and never finishes
its headers (`GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n`, nothing more) was held for ever: about 20,000 of them
took the service down (issue 19.1). `guarded_h11(...)` is uvicorn's h11 protocol with two deadlines on
top, after nginx's `client_header_timeout` and `client_body_timeout`: the request line and headers must
arrive within `header_timeout_s` of the connection (or of the first byte of a later keep-alive request),
and the body within `body_timeout_s` of the headers; otherwise the connection is closed. A request fully
read is not timed: screening it takes as long as it takes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from xscreen.settings import Settings

logger = logging.getLogger(__name__)


def guarded_h11(*, header_timeout_s: float, body_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing connections whose headers or body do not arrive in time."""

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _waiting_for: str | None = None  # "headers" | "body" | None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm("headers")

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            state = self.conn.their_state
            if state is h11.IDLE:  # (a later request's) headers incomplete: the keep-alive timer is off now
                if self._waiting_for != "headers":
                    self._arm("headers")
            elif state is h11.SEND_BODY:
                if self._waiting_for != "body":
                    self._arm("body")
            else:  # the whole request is in (DONE), or the connection is closing
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self, what: str) -> None:
            self._disarm()
            self._waiting_for = what
            self._deadline = self.loop.call_later(header_timeout_s if what == "headers" else body_timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline, self._waiting_for = None, None

        def _expire(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()  # the app, if it was reading the body, sees a client disconnect

    return GuardedH11Protocol


class RateLimitedFilter(logging.Filter):
    """Lets a message through at most once every `interval_s`, then says how many were dropped.

    asyncio logs `socket.accept() out of system resource` on every retry while file descriptors run out:
    108 MB of log in 30 s under the connection flood."""

    def __init__(self, prefix: str, interval_s: float = 10.0) -> None:
        super().__init__()
        self.prefix, self.interval_s = prefix, interval_s
        self._last = float("-inf")
        self._dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix):
            return True
        now = time.monotonic()
        if now - self._last < self.interval_s:
            self._dropped += 1
            return False
        if self._dropped:
            record.msg = f"{record.msg} ({self._dropped} more in the last {now - self._last:.0f} s not logged)"
            record.args = None
        self._last, self._dropped = now, 0
        return True


ACCEPT_ERROR = "socket.accept() out of system resource"


def install_accept_error_filter() -> RateLimitedFilter:
    """Rate-limit asyncio's accept-error log (once per process; returns the filter in place)."""
    asyncio_logger = logging.getLogger("asyncio")
    for existing in asyncio_logger.filters:
        if isinstance(existing, RateLimitedFilter) and existing.prefix == ACCEPT_ERROR:
            return existing
    accept_filter = RateLimitedFilter(ACCEPT_ERROR)
    asyncio_logger.addFilter(accept_filter)
    return accept_filter


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """uvicorn's config from the settings' connection limits; keyword overrides (log level, graceful timeout) win."""
    install_accept_error_filter()
    values: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": guarded_h11(header_timeout_s=settings.header_timeout_s, body_timeout_s=settings.body_timeout_s),
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "limit_concurrency": settings.limit_concurrency,
        "backlog": settings.backlog,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
    values.update(overrides)
    return uvicorn.Config(app, **values)
