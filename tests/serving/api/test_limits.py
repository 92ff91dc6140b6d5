"""Limits over real HTTP: body size and pixel count (413), a full engine queue (429 with Retry-After)."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np

from tests.serving.api.helpers import assert_error, post_scan, stored_count
from tests.serving.conftest import create_station_key, live_server
from tests.serving.images import parcel_rgb, png_bytes


def test_upload_over_the_size_limit_is_413(make_settings) -> None:
    settings = make_settings(max_upload_bytes=20_000)
    key = create_station_key(settings)
    big = png_bytes(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8))
    assert len(big) > 20_000
    with live_server(settings) as srv, httpx.Client(base_url=srv.url, headers={"X-API-Key": key}) as client:
        assert_error(post_scan(client, big), 413, "scan_too_large")
        raw = client.post("/v1/scans", content=big, headers={"Content-Type": "image/png"})
        assert_error(raw, 413, "scan_too_large")
        # Far over the limit: refused from Content-Length, before the body is read.
        huge = client.post("/v1/scans", content=b"\x89PNG" + b"\x00" * 2_000_000, headers={"Content-Type": "image/png"})
        assert_error(huge, 413, "scan_too_large")
        # Streamed without Content-Length: counted as it arrives.
        streamed = client.post("/v1/scans", content=iter([b"\x89PNG" + b"\x00" * 100_000] * 4), headers={"Content-Type": "image/png"})
        assert_error(streamed, 413, "scan_too_large")
        assert post_scan(client, png_bytes()).status_code == 201
    assert stored_count(settings) == (1, 0)


def test_image_over_the_pixel_limit_is_413(make_settings) -> None:
    settings = make_settings(max_image_pixels=10_000)
    key = create_station_key(settings)
    with live_server(settings) as srv, httpx.Client(base_url=srv.url, headers={"X-API-Key": key}) as client:
        assert_error(post_scan(client, png_bytes(parcel_rgb(200, 100))), 413, "scan_too_large")
        assert post_scan(client, png_bytes(parcel_rgb(90, 90))).status_code == 201


def test_full_queue_answers_429_with_retry_after(make_settings) -> None:
    # One scan waits in the queue for its batch to fill (long delay); the next finds the queue full.
    settings = make_settings(max_queue_size=1, max_batch_size=8, max_queue_delay_ms=1500)
    key = create_station_key(settings)
    with live_server(settings) as srv, httpx.Client(base_url=srv.url, headers={"X-API-Key": key}, timeout=30) as client:
        results: dict[str, httpx.Response] = {}
        first = threading.Thread(target=lambda: results.setdefault("first", post_scan(client, png_bytes(), scan_id="waits")))
        first.start()
        time.sleep(0.5)
        refused = post_scan(client, png_bytes(seed=1), scan_id="refused")
        first.join()
        assert_error(refused, 429, "queue_full")
        assert refused.headers["retry-after"] == "1"
        assert results["first"].status_code == 201
        # Retried after the queue drained, the refused scan is screened.
        assert post_scan(client, png_bytes(seed=1), scan_id="refused").status_code == 201
