"""Admission over real HTTP (issue 19.2, 19.3): decompression bombs of every format are 413 from their
header; scans that do not fit in the bytes in flight get 429 and are screened when retried; a flood of
uploads is refused before its bodies are read. Loopback, bounded in count, bytes and time."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.serving.api.helpers import assert_error, post_scan, stored_count
from tests.serving.conftest import LiveServer, create_station_key, live_server, scrape_metrics, settings_for
from tests.serving.images import bomb_files, png_bytes
from xscreen.settings import Settings

BOMBS = bomb_files(1024)  # 2 to 8 MB decoded each
BOUND_S = 5.0  # a refusal before the body must come well within this; the body timeout is 30 s


def gauge(url: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", scrape_metrics(url), flags=re.M)
    assert match, name
    return float(match.group(1))


def wait_for_gauge(url: str, name: str, predicate: Callable[[float], bool], timeout_s: float = 20.0) -> float:
    """Poll /metrics until the gauge satisfies `predicate` (a condition, not a sleep, synchronises)."""
    deadline = time.monotonic() + timeout_s
    while not predicate(value := gauge(url, name)):
        assert time.monotonic() < deadline, f"{name} stayed at {value}"
        time.sleep(0.02)
    return value


@pytest.fixture(scope="module")
def bomb_server(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Iterator[tuple[LiveServer, str]]:
    settings = settings_for(tmp_path_factory.mktemp("bombs") / "data", tiny_models_dir, max_scan_decoded_bytes=1_000_000)
    with live_server(settings) as srv:
        yield srv, create_station_key(settings)


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_a_bomb_over_the_decoded_limit_is_413_and_stores_nothing(bomb_server: tuple[LiveServer, str], fmt: str) -> None:
    server, key = bomb_server
    data, declared = BOMBS[fmt]
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=30) as client:
        response = post_scan(client, data, scan_id=f"bomb-{fmt}")
        assert_error(response, 413, "scan_too_large")
        assert f"{declared:,} bytes decoded" in response.json()["error"]["message"]
        assert stored_count(server.settings)[0] == 0
        assert gauge(server.url, "xscreen_scan_bytes_in_flight") == 0.0


def test_scans_beyond_the_bytes_in_flight_get_429_and_are_screened_when_retried(make_settings: Callable[..., Settings]) -> None:
    # Two 1024 x 1024 colour scans (3.1 MB decoded each) fit in the budget, a third does not. They wait for
    # their batch (long delay), so all three are in flight together; the refused one is screened on retry.
    data, declared = BOMBS["png"]
    settings = make_settings(max_upload_bytes=1_000_000, max_scan_decoded_bytes=4_000_000, max_scan_bytes_in_flight=2 * declared + 500_000,
                             max_batch_size=8, max_queue_delay_ms=3000)
    key = create_station_key(settings)
    with live_server(settings) as srv, httpx.Client(base_url=srv.url, headers={"X-API-Key": key}, timeout=60) as client:
        answers: dict[str, httpx.Response] = {}
        waiting = [threading.Thread(target=lambda i=i: answers.setdefault(f"w{i}", post_scan(client, data + bytes([i]), scan_id=f"w{i}"))) for i in range(2)]
        for thread in waiting:
            thread.start()
        held = wait_for_gauge(srv.url, "xscreen_scan_bytes_in_flight", lambda v: v >= 2 * declared)
        refused = post_scan(client, data + b"\x02", scan_id="refused")
        assert_error(refused, 429, "queue_full")
        assert "max_scan_bytes_in_flight" in refused.json()["error"]["message"] and refused.headers["retry-after"] == "1"
        for thread in waiting:
            thread.join()
        assert [answers[f"w{i}"].status_code for i in range(2)] == [201, 201]
        assert held <= settings.max_scan_bytes_in_flight
        wait_for_gauge(srv.url, "xscreen_scan_bytes_in_flight", lambda v: v == 0)
        assert post_scan(client, data + b"\x02", scan_id="refused").status_code == 201
    assert stored_count(settings)[0] == 3


def _start_upload(target: tuple[str, int], key: str, declared: int, body: bytes = b"") -> socket.socket:
    """Headers of a scan upload announcing `declared` bytes, and only `body` of them."""
    sock = socket.create_connection(target, timeout=BOUND_S)
    head = f"POST /v1/scans HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    sock.sendall(head.encode() + body)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict]:
    """Status and JSON body of the one response on `sock`."""
    data = b""
    while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
        chunk = sock.recv(65536)
        assert chunk, f"closed without a whole answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split(b" ", 2)[1]), json.loads(body)


def _length(data: bytes) -> int:
    match = re.search(rb"\r\ncontent-length: (\d+)", data.split(b"\r\n\r\n", 1)[0], flags=re.I)
    return int(match.group(1)) if match else 0


@pytest.mark.parametrize(
    ("limits", "stalled", "declared", "message"),
    [
        ({"max_scans_in_flight": 2}, [1000, 1000], 1000, "2 scans are already in flight"),
        ({"max_upload_bytes": 20_000_000, "max_scan_decoded_bytes": 5_000_000, "max_scan_bytes_in_flight": 50_000_000},
         [20_000_000, 20_000_000], 20_000_000, "hold 40,000,000 of 50,000,000 bytes"),
    ],
    ids=["scans-in-flight", "bytes-in-flight"],
)
def test_a_flood_of_uploads_is_refused_before_its_bodies_are_read(
    make_settings: Callable[..., Settings], limits: dict[str, int], stalled: list[int], declared: int, message: str
) -> None:
    # Uploads that announce their bodies and send almost nothing hold what admission gave them; the flood
    # behind them is answered 429 from its headers alone: none of its bodies is ever sent.
    settings = make_settings(body_timeout_s=30.0, **limits)
    key = create_station_key(settings)
    with live_server(settings) as srv, ExitStack() as stack:
        address = urlsplit(srv.url)
        target = (str(address.hostname), int(address.port or 80))
        holders = [stack.enter_context(_start_upload(target, key, n, b"\x89PNG")) for n in stalled]
        wait_for_gauge(srv.url, "xscreen_scans_in_flight", lambda v: v == len(stalled))
        flood = [stack.enter_context(_start_upload(target, key, declared)) for _ in range(20)]
        started = time.monotonic()
        answers = [_answer(sock) for sock in flood]
        assert time.monotonic() - started < BOUND_S
        assert [status for status, _ in answers] == [429] * 20
        assert all(body["error"]["code"] == "queue_full" and message in body["error"]["message"] for _, body in answers)
        with httpx.Client(base_url=srv.url, headers={"X-API-Key": key}) as client:
            for sock in holders:
                sock.close()
            wait_for_gauge(srv.url, "xscreen_scans_in_flight", lambda v: v == 0)
            assert gauge(srv.url, "xscreen_scan_bytes_in_flight") == 0.0
            assert post_scan(client, png_bytes()).status_code == 201
