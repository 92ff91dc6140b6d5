"""Shared helpers of the API tests."""

from __future__ import annotations

import httpx

from xscreen.serving.store.db import open_database
from xscreen.serving.store.records import DetectionRecord, ScanRecord
from xscreen.settings import Settings


def post_scan(client: httpx.Client, data: bytes, **fields: str) -> httpx.Response:
    return client.post("/v1/scans", files={"file": ("scan.bin", data, "application/octet-stream")}, data=fields)

def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]

def stored_count(settings: Settings) -> tuple[int, int]:
    engine, sessions = open_database(settings.effective_database_url)
    try:
        with sessions() as session:
            return session.query(ScanRecord).count(), session.query(DetectionRecord).count()
    finally:
        engine.dispose()
