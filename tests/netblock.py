"""Block every outgoing network connection except loopback, inside the test process."""

from __future__ import annotations

import ipaddress
import socket
from contextlib import contextmanager
from typing import Iterator


class NetworkBlocked(RuntimeError):
    pass


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: resolving it would itself reach out


@contextmanager
def network_blocked() -> Iterator[list[object]]:
    """Patch socket so non-loopback connects and name lookups raise; yields the attempts made."""
    attempts: list[object] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):  # type: ignore[no-untyped-def]
        if not _is_local(address):
            attempts.append(address)
            raise NetworkBlocked(f"test tried to connect to {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):  # type: ignore[no-untyped-def]
        if not _is_local(address):
            attempts.append(address)
            raise NetworkBlocked(f"test tried to connect to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in (None, "localhost") and not _is_local((host,)):
            attempts.append(host)
            raise socket.gaierror(f"name lookup of {host!r} blocked in tests")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo  # type: ignore[assignment]
