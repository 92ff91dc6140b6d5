"""Connection limits (issue 19.1): connections that never finish their headers or body are dropped after
the settings' timeouts, and the service keeps answering meanwhile. Loopback only, bounded in count and time."""

from __future__ import annotations

import logging
import socket
import time
from contextlib import ExitStack
from typing import Callable
from urllib.parse import urlsplit

import httpx

from tests.serving.conftest import live_server
from xscreen.serving.api.server import ACCEPT_ERROR, RateLimitedFilter
from xscreen.settings import Settings

HALF_OPEN = 50
BOUND_S = 20.0  # every dropped connection must be seen closed within this (the timeouts are 1 s)


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """True once the server closes `sock` (EOF or reset), False if `deadline` passes first."""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if sock.recv(4096) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
    return False


def test_half_open_connections_are_dropped_and_the_service_still_answers(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(header_timeout_s=1.0, body_timeout_s=1.0)
    with live_server(settings) as server, ExitStack() as stack:
        address = urlsplit(server.url)
        target = (address.hostname, address.port)
        stalled = []
        for i in range(HALF_OPEN):
            sock = stack.enter_context(socket.create_connection(target, timeout=5))
            if i % 2:  # headers never finished (the reproducer)
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            else:  # headers complete, the announced body never sent
                sock.sendall(b"POST /v1/scans HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n\x89PNG")
            stalled.append(sock)
        silent = stack.enter_context(socket.create_connection(target, timeout=5))  # connects, sends nothing
        assert httpx.get(f"{server.url}/healthz", timeout=5).json() == {"status": "ok"}  # answered while they hang
        deadline = time.monotonic() + BOUND_S
        dropped = sum(_closed_by_server(sock, deadline) for sock in [*stalled, silent])
        assert dropped == HALF_OPEN + 1
        assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200


def test_a_slow_request_that_completes_in_time_is_answered(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(header_timeout_s=5.0)
    with live_server(settings) as server:
        address = urlsplit(server.url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n", b"\r\n"):
                sock.sendall(part)
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and b'{"status":"ok"}' in reply


def test_accept_errors_are_logged_at_most_once_per_interval() -> None:
    limiter = RateLimitedFilter(ACCEPT_ERROR, interval_s=3600)

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, None, None)

    passed = [limiter.filter(record(f"{ACCEPT_ERROR}\nsocket: <fd {i}>")) for i in range(1000)]
    assert passed.count(True) == 1 and passed[0]
    assert limiter.filter(record("Task exception was never retrieved"))  # other asyncio errors pass
    limiter.interval_s = 0.0
    summary = record(ACCEPT_ERROR)
    assert limiter.filter(summary) and "999 more" in summary.getMessage()
