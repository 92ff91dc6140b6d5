"""POST /v1/scans/{id}/review and GET .../reviews: officers' verdicts, validated against the taxonomy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.serving.api.helpers import assert_error, post_scan
from tests.serving.images import png_bytes


@pytest.fixture
def scan_id(client: httpx.Client, request: pytest.FixtureRequest) -> str:
    sid = f"rev-{abs(hash(request.node.name)) % 10**8}"
    assert post_scan(client, png_bytes(), scan_id=sid).status_code == 201
    return sid


def test_reviews_are_kept_in_order_and_shown_with_the_scan(client: httpx.Client, officer: httpx.Client, scan_id: str) -> None:
    first = officer.post(f"/v1/scans/{scan_id}/review", json={"outcome": "threat_confirmed", "classes": ["firearm_part"]})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["outcome"] == "threat_confirmed" and body["classes"] == ["firearm_part"] and body["station"] is None
    assert body["boxes"] is None and body["officer"] == "officer-1"  # from the session, not the body
    second = officer.post(
        f"/v1/scans/{scan_id}/review",
        json={"outcome": "threat_confirmed", "classes": ["drug_bulk"], "boxes": [{"class_name": "firearm", "box": [1, 2, 50, 60]}], "note": "slide under books"},
    )
    assert second.status_code == 201, second.text
    assert second.json()["classes"] == ["firearm", "drug_bulk"]  # box classes count as confirmed (taxonomy order)
    assert second.json()["boxes"] == [{"class_name": "firearm", "box": [1.0, 2.0, 50.0, 60.0]}]
    listed = client.get(f"/v1/scans/{scan_id}/reviews").json()
    assert [r["id"] for r in listed] == [body["id"], second.json()["id"]]
    assert [r["id"] for r in client.get(f"/v1/scans/{scan_id}").json()["reviews"]] == [r["id"] for r in listed]


BAD_REVIEWS: list[tuple[str, Any]] = [
    ("unknown outcome", {"outcome": "maybe"}),
    ("confirmed without classes", {"outcome": "threat_confirmed"}),
    ("false alarm with classes", {"outcome": "false_alarm", "classes": ["knife"]}),
    ("clear with boxes", {"outcome": "clear", "boxes": [{"class_name": "knife", "box": [1, 2, 3, 4]}]}),
    ("unknown class", {"outcome": "threat_confirmed", "classes": ["bazooka"]}),
    ("box outside the scan", {"outcome": "threat_confirmed", "classes": ["knife"], "boxes": [{"class_name": "knife", "box": [0, 0, 5000, 10]}]}),
    ("inverted box", {"outcome": "threat_confirmed", "boxes": [{"class_name": "knife", "box": [50, 10, 5, 20]}]}),
    ("box of three numbers", {"outcome": "threat_confirmed", "boxes": [{"class_name": "knife", "box": [1, 2, 3]}]}),
    ("box with an unknown class", {"outcome": "threat_confirmed", "boxes": [{"class_name": "bazooka", "box": [1, 2, 3, 4]}]}),
    ("extra field", {"outcome": "false_alarm", "verdict": "hold"}),
    ("officer named in the body", {"outcome": "false_alarm", "officer": "someone else"}),
    ("note too long", {"outcome": "false_alarm", "note": "x" * 5000}),
    ("not an object", [1, 2, 3]),
]


@pytest.mark.parametrize(("case", "payload"), BAD_REVIEWS, ids=[c for c, _ in BAD_REVIEWS])
def test_bad_reviews_are_422_and_store_nothing(client: httpx.Client, officer: httpx.Client, scan_id: str, case: str, payload: Any) -> None:
    assert_error(officer.post(f"/v1/scans/{scan_id}/review", json=payload), 422, "invalid_request")
    assert client.get(f"/v1/scans/{scan_id}/reviews").json() == []


def test_malformed_json_is_422(officer: httpx.Client, scan_id: str) -> None:
    response = officer.post(f"/v1/scans/{scan_id}/review", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 422, "invalid_request")


def test_review_of_unknown_scan_is_404(officer: httpx.Client) -> None:
    assert_error(officer.post("/v1/scans/missing/review", json={"outcome": "false_alarm"}), 404, "scan_not_found")
