"""Boxes and decisions end to end, on the tiny model with its weak boxes let through (eager fixtures)."""

from __future__ import annotations

import httpx

from tests.serving.api.helpers import post_scan, stored_count
from tests.serving.conftest import create_station_key, live_server
from tests.serving.images import png_bytes
from xscreen.settings import Settings
from xscreen.vision.detections import Detections
from xscreen.vision.policy import load_policy


def test_decision_follows_policy_and_boxes_are_stored(eager_settings: Settings) -> None:
    key = create_station_key(eager_settings)
    with live_server(eager_settings) as srv, httpx.Client(base_url=srv.url, headers={"X-API-Key": key}) as client:
        body = post_scan(client, png_bytes(), scan_id="held").json()
        assert body["detections"], "the eager model reports its weak boxes"
        for det in body["detections"]:
            assert {"class_id", "class_name", "category", "score", "box"} == set(det)
            x0, y0, x1, y1 = det["box"]
            assert 0 <= x0 < x1 <= body["image"]["width"] and 0 <= y0 < y1 <= body["image"]["height"]
        # The verdict is the policy's, recomputed here from the returned boxes.
        policy = load_policy(eager_settings.policy_file)
        expected = policy.decide(Detections.from_records(body["detections"]))
        assert body["decision"]["verdict"] == expected.verdict == "hold"
        assert body["decision"]["policy_version"] == "eager:3"
        assert body["decision"]["reasons"] == [r.to_dict() for r in expected.reasons]
        classes = {d["class_name"] for d in body["detections"]}
        name = sorted(classes)[0]
        listed = client.get("/v1/scans", params={"class_name": name}).json()
        assert [s["scan_id"] for s in listed["items"]] == ["held"]
        annotated = client.get("/v1/scans/held/annotated")
        assert annotated.status_code == 200 and annotated.headers["content-type"] == "image/png"
        assert annotated.content.startswith(b"\x89PNG")
    assert stored_count(eager_settings) == (1, len(body["detections"]))
