"""Many stations at once: every scan answered and stored exactly once; shutdown finishes in-flight scans."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from tests.serving.api.helpers import post_scan, stored_count
from tests.serving.conftest import create_station_key, live_server, scrape_metrics
from tests.serving.images import png_bytes


def test_parallel_scans_are_all_answered_and_stored_once(make_settings) -> None:
    settings = make_settings(max_batch_size=8, max_queue_delay_ms=20, max_queue_size=256)
    key = create_station_key(settings)
    unique = [(f"par-{i}", png_bytes(seed=i)) for i in range(32)]
    duplicates = [unique[i] for i in range(0, 32, 4)]  # 8 of them sent twice, at the same time

    async def run(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=120) as client:
            return await asyncio.gather(
                *(client.post("/v1/scans", files={"file": ("s.png", data, "image/png")}, data={"scan_id": sid}) for sid, data in unique + duplicates)
            )

    with live_server(settings) as srv:
        responses = asyncio.run(run(srv.url))
        metrics = scrape_metrics(srv.url)
    statuses = [r.status_code for r in responses]
    assert all(s in (200, 201) for s in statuses), [r.text for r in responses if r.status_code not in (200, 201)]
    assert statuses.count(201) == 32 and statuses.count(200) == 8
    assert {r.json()["scan_id"] for r in responses} == {sid for sid, _ in unique}
    assert stored_count(settings)[0] == 32
    # Requests were grouped: fewer engine batches than scans.
    batches = float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith("xscreen_batch_size_count")))
    assert 1 <= batches < 32


def test_shutdown_finishes_in_flight_scans(make_settings) -> None:
    settings = make_settings(max_batch_size=8, max_queue_delay_ms=1000)
    key = create_station_key(settings)
    srv = live_server(settings)
    server = srv.__enter__()
    results: dict[str, httpx.Response] = {}

    def send() -> None:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=30) as client:
            results["r"] = post_scan(client, png_bytes(), scan_id="in-flight")

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.3)  # the scan now waits in the batcher
    srv.__exit__(None, None, None)  # asks uvicorn to stop: it lets the request finish first
    sender.join()
    assert results["r"].status_code == 201
    assert stored_count(settings)[0] == 1


@pytest.mark.postgres
def test_parallel_scans_on_postgres(make_settings) -> None:
    from tests.serving.postgres import postgres_schema_url, postgres_url_or_skip

    for url in postgres_schema_url(postgres_url_or_skip()):
        settings = make_settings(database_url=url, max_batch_size=4, max_queue_delay_ms=10)
        key = create_station_key(settings)
        scans = [(f"pg-{i}", png_bytes(seed=i)) for i in range(12)]

        async def run(base: str) -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=120) as client:
                return await asyncio.gather(
                    *(client.post("/v1/scans", files={"file": ("s.png", d, "image/png")}, data={"scan_id": sid}) for sid, d in scans + scans[:4])
                )

        with live_server(settings) as srv:
            responses = asyncio.run(run(srv.url))
            with httpx.Client(base_url=srv.url, headers={"X-API-Key": key}) as client:
                assert client.get("/v1/scans").json()["total"] == 12
                assert client.get("/readyz").status_code == 200
        assert sorted(r.status_code for r in responses) == [200] * 4 + [201] * 12
        assert stored_count(settings)[0] == 12
