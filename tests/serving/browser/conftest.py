"""Headless Debian Chromium (/usr/bin/chromium) driven by Playwright; these tests skip where it is missing.
Never `playwright install`: the browser is the system's, launched with a fresh empty profile and no network
features (sync, component updates, QUIC)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.serving.conftest import LiveServer, create_officer, create_station_key, live_server
from tests.serving.images import dual_energy_npz_bytes, png_bytes
from xscreen.settings import Settings

CHROMIUM = Path(os.environ.get("XSCREEN_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport=VIEWPORT,
        )
        try:
            yield browser
        finally:
            browser.close()


class Desk:
    """A served workstation with held scans from two stations, an officer and a station key."""

    def __init__(self, server: LiveServer, key: str, password: str, scans: dict[str, dict[str, Any]]) -> None:
        self.server, self.key, self.password, self.scans = server, key, password, scans
        self.url = server.url


@pytest.fixture
def desk(eager_settings: Settings) -> Iterator[Desk]:
    with live_server(eager_settings) as server:
        key = create_station_key(server.settings, station="lane-1")
        password = create_officer(server.settings, name="k.meyer")
        scans = {}
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as station:
            for scan_id, data, fields in [
                ("LANE1-0001", png_bytes(seed=11), {"item_ref": "CP100000001DE", "origin": "CN", "declared_contents": "phone case"}),
                ("LANE1-0002", dual_energy_npz_bytes(width=2400, height=400), {"item_ref": "CP100000002DE", "origin": "US", "declared_contents": "books"}),
                ("LANE1-0003", png_bytes(seed=12), {"item_ref": "CP100000003DE", "origin": "DE"}),
            ]:
                response = station.post("/v1/scans", files={"file": ("scan", data, "application/octet-stream")}, data={"scan_id": scan_id, **fields})
                assert response.status_code == 201, response.text
                scans[scan_id] = response.json()
        assert {s["decision"]["verdict"] for s in scans.values()} <= {"hold", "inspect"}, json.dumps({k: v["decision"] for k, v in scans.items()})
        yield Desk(server, key, password, scans)
