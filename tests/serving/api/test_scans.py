"""POST/GET /v1/scans over real HTTP: every format, a table of bad inputs, idempotency, auth, listing."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from typing import Any, Callable

import httpx
import numpy as np
import pytest

from tests.factories import DEFAULT_POLICY_VERSION
from tests.serving.api.helpers import assert_error, post_scan, stored_count
from tests.serving.conftest import create_station_key
from tests.serving.images import dual_energy_npz_bytes, jpeg_bytes, png_bytes, tiff16_bytes
from xscreen.serving.store.db import open_database


@pytest.mark.parametrize(
    ("make", "kind", "media_type"),
    [
        (png_bytes, "colour", "image/png"),
        (jpeg_bytes, "colour", "image/jpeg"),
        (tiff16_bytes, "gray", "image/tiff"),
        (dual_energy_npz_bytes, "dual_energy", "application/x-npz"),
    ],
)
def test_screens_every_format_and_stores_it(client: httpx.Client, make: Callable[[], bytes], kind: str, media_type: str) -> None:
    data = make()
    scan_id = "fmt-" + media_type.replace("/", "-")
    response = post_scan(client, data, scan_id=scan_id, item_ref="PARCEL-1", origin="CN", view="top", declared_contents="books")
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/scans/{scan_id}"
    assert body["scan_id"] == scan_id and body["station"] == "station-1" and body["item_ref"] == "PARCEL-1"
    assert body["image"]["kind"] == kind and body["image"]["media_type"] == media_type and body["image"]["bytes"] == len(data)
    assert body["model"] == {"name": "tiny", "version": 1}
    assert body["decision"]["policy_version"] == DEFAULT_POLICY_VERSION
    assert body["decision"]["verdict"] in ("clear", "inspect", "hold")
    assert {"receive", "decode", "queue", "inference", "screen", "store", "total"} <= set(body["timings_ms"])
    # Stored: the record reads back the same, the image byte for byte.
    again = client.get(f"/v1/scans/{scan_id}").json()
    assert {k: again[k] for k in ("image", "detections", "decision", "model")} == {k: body[k] for k in ("image", "detections", "decision", "model")}
    image = client.get(f"/v1/scans/{scan_id}/image")
    assert image.status_code == 200 and image.content == data and image.headers["content-type"] == media_type


def test_the_declaration_reaches_the_policy_and_is_stored(client: httpx.Client) -> None:
    """Letters declared, a thick organic mass scanned: the policy's mismatch rule sends it to an officer."""
    from tests.factories import physics_parcel

    scan = physics_parcel("water", 10.0, 0.25, "colour")
    declared = {"declared_contents": "letters", "hs_code": "4802.10", "declared_value": "12.5", "origin": "FR"}
    body = post_scan(client, png_bytes(scan.pixels), item_ref="DECL-1", **declared).json()
    assert (body["hs_code"], body["declared_value"], body["declared_contents"]) == ("4802.10", 12.5, "letters")
    assert body["decision"]["verdict"] == "inspect"
    (reason,) = [r for r in body["decision"]["reasons"] if r["rule"] == "declaration_mismatch"]
    assert reason["detection"] is None and "documents" in reason["detail"]
    plain = post_scan(client, png_bytes(scan.pixels), item_ref="DECL-2").json()  # nothing declared: the rule has nothing to compare
    assert [r["rule"] for r in plain["decision"]["reasons"]] == []


def test_raw_body_with_metadata_in_query(client: httpx.Client) -> None:
    data = png_bytes(seed=2)
    response = client.post("/v1/scans", params={"scan_id": "raw-1", "item_ref": "P9"}, content=data, headers={"Content-Type": "image/png"})
    assert response.status_code == 201, response.text
    assert response.json()["item_ref"] == "P9"
    assert client.get("/v1/scans/raw-1/image").content == data


def test_scan_id_is_generated_when_absent(client: httpx.Client) -> None:
    first, second = post_scan(client, png_bytes()), post_scan(client, png_bytes())
    assert first.status_code == second.status_code == 201
    assert first.json()["scan_id"] != second.json()["scan_id"]


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a size, with one tiny (wrong) data chunk: a decompression bomb's header."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def _multipart(body_parts: list[tuple[str, str | None, bytes]], boundary: str = "XSCREENBOUNDARY") -> tuple[bytes, str]:
    out = io.BytesIO()
    for name, filename, payload in body_parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.write(f"Content-Disposition: {disposition}\r\n\r\n".encode())
        out.write(payload + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


_two_files = _multipart([("file", "a.png", png_bytes()), ("file", "b.png", png_bytes(seed=1))])


BAD_INPUTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("empty file", {"files": {"file": ("a.png", b"", "image/png")}}, 422, "scan_undecodable"),
    ("empty raw body", {"content": b"", "headers": {"Content-Type": "application/octet-stream"}}, 422, "scan_undecodable"),
    ("not an image", {"files": {"file": ("a.png", b"hello world, not a scan", "image/png")}}, 415, "unsupported_media"),
    ("truncated png", {"files": {"file": ("a.png", png_bytes()[:60], "image/png")}}, 422, "scan_undecodable"),
    ("truncated jpeg", {"files": {"file": ("a.jpg", jpeg_bytes()[:200], "image/jpeg")}}, 422, "scan_undecodable"),
    ("png header, no pixels", {"files": {"file": ("a.png", _png_claiming(64, 64), "image/png")}}, 422, "scan_undecodable"),
    ("decompression bomb", {"files": {"file": ("a.png", _png_claiming(60000, 60000), "image/png")}}, 413, "scan_too_large"),
    ("zip that is no npz", {"files": {"file": ("a.npz", b"PK\x03\x04" + b"\x00" * 40, "application/zip")}}, 422, "scan_undecodable"),
    ("json body", {"json": {"image": "aGVsbG8="}}, 415, "unsupported_media"),
    ("form-urlencoded body", {"data": {"scan_id": "x"}}, 415, "unsupported_media"),
    ("text body", {"content": b"GIF89a", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media"),
    ("multipart without file", {"files": {"other": ("x", b"", "text/plain")}, "data": {"scan_id": "x"}}, 422, "invalid_request"),
    ("file sent as a text field", {"content": _multipart([("file", None, b"abc")])[0], "headers": {"Content-Type": _multipart([])[1]}}, 422, "invalid_request"),
    ("two files", {"content": _two_files[0], "headers": {"Content-Type": _two_files[1]}}, 400, "bad_request"),
    ("unknown metadata field", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"colour": "red"}}, 422, "invalid_request"),
    ("scan_id with a space", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"scan_id": "a b"}}, 422, "invalid_request"),
    ("scan_id path traversal", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"scan_id": "../etc"}}, 422, "invalid_request"),
    ("scan_id too long", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"scan_id": "x" * 129}}, 422, "invalid_request"),
    ("metadata twice", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"view": "top"}, "params": {"view": "side"}}, 422, "invalid_request"),
    ("another station's id", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"station_id": "station-9"}}, 422, "invalid_request"),
    ("scan_id with a trailing newline", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"scan_id": "pad-1\n"}}, 422, "invalid_request"),
    ("scan_id with a trailing space", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"scan_id": "pad-1 "}}, 422, "invalid_request"),
    ("scan_id with a leading tab", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"scan_id": "\tpad-1"}}, 422, "invalid_request"),
    ("scan_id trailing newline in the query", {"content": png_bytes(), "headers": {"Content-Type": "image/png"}, "params": {"scan_id": "pad-2\n"}}, 422, "invalid_request"),
    ("item_ref with NUL", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"item_ref": "P\x001"}}, 422, "invalid_request"),
    ("item_ref with an escape sequence", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"item_ref": "\x1b[31mP1"}}, 422, "invalid_request"),
    ("item_ref with a newline inside", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"item_ref": "P1\nP2"}}, 422, "invalid_request"),
    ("item_ref with a trailing newline", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"item_ref": "P1\n"}}, 422, "invalid_request"),
    ("item_ref with DEL", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"item_ref": "P1\x7f"}}, 422, "invalid_request"),
    ("hs_code with letters", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"hs_code": "49AB"}}, 422, "invalid_request"),
    ("declared_value negative", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"declared_value": "-1"}}, 422, "invalid_request"),
    ("declared_value nan", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"declared_value": "nan"}}, 422, "invalid_request"),
    ("origin with a C1 control", {"files": {"file": ("a.png", png_bytes(), "image/png")}, "data": {"origin": "CN\x85"}}, 422, "invalid_request"),
    ("broken multipart", {"content": b"--nope\r\ngarbage", "headers": {"Content-Type": "multipart/form-data; boundary=XSCREENBOUNDARY"}}, 400, "bad_request"),
]


@pytest.mark.parametrize(("case", "request_kwargs", "status", "code"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_are_refused_and_store_nothing(client: httpx.Client, server, case: str, request_kwargs: dict[str, Any], status: int, code: str) -> None:
    before = stored_count(server.settings)
    response = client.post("/v1/scans", **request_kwargs)
    assert_error(response, status, code)
    assert stored_count(server.settings) == before
    # The service is still healthy and screens the next scan.
    assert post_scan(client, png_bytes()).status_code == 201


@pytest.mark.parametrize("shape", [(1, 1), (1, 3000), (3000, 1), (2, 2)])
def test_degenerate_images_are_answered(client: httpx.Client, shape: tuple[int, int]) -> None:
    img = np.full((*shape, 3), 200, np.uint8)
    response = post_scan(client, png_bytes(img))
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert response.json()["error"]["code"] == "scan_unprocessable"


def test_resending_a_scan_id_returns_the_stored_result(client: httpx.Client, server) -> None:
    before = stored_count(server.settings)[0]
    data = png_bytes()
    first = post_scan(client, data, scan_id="parcel-7-top")
    second = post_scan(client, data, scan_id="parcel-7-top")
    assert first.status_code == 201 and second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    a, b = first.json(), second.json()
    assert a["received_at"] == b["received_at"] and a["decision"] == b["decision"] and a["detections"] == b["detections"]
    assert stored_count(server.settings)[0] == before + 1


@pytest.mark.parametrize(
    ("first", "again", "named"),
    [
        ({"item_ref": "P-1"}, {"item_ref": "P-2"}, "item_ref"),
        ({"item_ref": "P-1"}, {}, "item_ref"),
        ({}, {"origin": "CN"}, "origin"),
        ({"view": "top", "declared_contents": "books"}, {"view": "side", "declared_contents": "toys"}, "declared_contents, view"),
        ({"pixel_pitch_mm": "0.8"}, {"pixel_pitch_mm": "0.5"}, "pixel_pitch_mm"),
        ({"hs_code": "4901.99"}, {"hs_code": "4902"}, "hs_code"),
        ({"declared_value": "10"}, {"declared_value": "12.5"}, "declared_value"),
    ],
)
def test_a_resend_with_other_metadata_is_409_naming_the_fields(client: httpx.Client, server, first: dict[str, str], again: dict[str, str], named: str) -> None:
    """Issue 19.8: the same bytes under the same scan_id with other metadata used to return the old record."""
    scan_id = f"meta-{uuid.uuid4().hex}"
    data = png_bytes(seed=41)
    assert post_scan(client, data, scan_id=scan_id, **first).status_code == 201
    before = stored_count(server.settings)
    response = post_scan(client, data, scan_id=scan_id, **again)
    assert_error(response, 409, "scan_conflict")
    assert f"was stored with another {named};" in response.json()["error"]["message"]
    assert stored_count(server.settings) == before
    assert client.get(f"/v1/scans/{scan_id}").json()["item_ref"] == first.get("item_ref")
    assert post_scan(client, data, scan_id=scan_id, **first).status_code == 200  # the exact re-send is still a replay


def test_reusing_a_scan_id_for_another_image_or_station_is_409(client: httpx.Client, server) -> None:
    before = stored_count(server.settings)[0]
    assert post_scan(client, png_bytes(seed=0), scan_id="k1").status_code == 201
    assert_error(post_scan(client, png_bytes(seed=1), scan_id="k1"), 409, "scan_conflict")
    other_key = create_station_key(server.settings, station="station-2")
    with httpx.Client(base_url=server.url, headers={"X-API-Key": other_key}) as other:
        assert_error(post_scan(other, png_bytes(seed=0), scan_id="k1"), 409, "scan_conflict")
        assert_error(other.get("/v1/scans/k1"), 404, "scan_not_found")
    assert stored_count(server.settings)[0] == before + 1


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/scans"), ("GET", "/v1/scans"), ("GET", "/v1/scans/x"), ("GET", "/v1/scans/x/image"),
     ("GET", "/v1/scans/x/annotated"), ("GET", "/v1/scans/x/reviews"), ("GET", "/v1/models")],
)
def test_every_v1_call_needs_a_valid_key(server, method: str, path: str) -> None:
    from xscreen.serving.auth import revoke_keys

    settings = server.settings
    before = stored_count(settings)
    key = create_station_key(settings, station="revoked-station")
    engine, sessions = open_database(settings.effective_database_url)
    with sessions() as session:
        revoke_keys(session=session, station="revoked-station")
    engine.dispose()
    with httpx.Client(base_url=server.url) as client:
        assert_error(client.request(method, path), 401, "unauthorized")
        assert_error(client.request(method, path, headers={"X-API-Key": "xsk_nope_nope"}), 401, "unauthorized")
        assert_error(client.request(method, path, headers={"X-API-Key": key}), 403, "key_revoked")
    assert stored_count(settings) == before


@pytest.mark.parametrize("path", ["/v1/scans/missing", "/v1/scans/missing/image", "/v1/scans/missing/annotated", "/v1/scans/missing/reviews"])
def test_unknown_scan_is_404(client: httpx.Client, path: str) -> None:
    assert_error(client.get(path), 404, "scan_not_found")


def test_unknown_route_and_method_answer_json(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.delete("/v1/scans"), 405, "method_not_allowed")


def test_list_filters_and_pages(server) -> None:
    # Two stations of their own, so the scans other tests of this module stored do not count.
    keys = {name: create_station_key(server.settings, station=name) for name in ("list-a", "list-b")}
    with httpx.Client(base_url=server.url, headers={"X-API-Key": keys["list-a"]}) as client:
        for i in range(5):
            assert post_scan(client, png_bytes(seed=i), scan_id=f"list-a-{i}").status_code == 201
        with httpx.Client(base_url=server.url, headers={"X-API-Key": keys["list-b"]}) as other:
            assert post_scan(other, png_bytes(seed=9), scan_id="list-b-0").status_code == 201
            assert [s["scan_id"] for s in other.get("/v1/scans").json()["items"]] == ["list-b-0"]
        mine = client.get("/v1/scans", params={"station": "list-a"}).json()
        assert mine["total"] == 5 and [s["scan_id"] for s in mine["items"]] == [f"list-a-{i}" for i in (4, 3, 2, 1, 0)]  # newest first
        page = client.get("/v1/scans", params={"station": "list-a", "limit": 2, "offset": 2}).json()
        assert [s["scan_id"] for s in page["items"]] == ["list-a-2", "list-a-1"] and page["total"] == 5
        assert client.get("/v1/scans", params={"station": "list-b"}).json()["total"] == 0  # only its own station
        assert client.get("/v1/scans").json()["total"] == 5
        assert client.get("/v1/scans", params={"station": "list-a", "verdict": "clear"}).json()["total"] == 5
        assert client.get("/v1/scans", params={"station": "list-a", "verdict": "hold"}).json()["total"] == 0
        middle = mine["items"][2]["received_at"]
        assert client.get("/v1/scans", params={"station": "list-a", "since": middle}).json()["total"] == 3
        assert client.get("/v1/scans", params={"station": "list-a", "until": middle}).json()["total"] == 2
        assert_error(client.get("/v1/scans", params={"class_name": "bazooka"}), 422, "invalid_request")
        assert_error(client.get("/v1/scans", params={"verdict": "maybe"}), 422, "invalid_request")
        assert_error(client.get("/v1/scans", params={"limit": 0}), 422, "invalid_request")
        assert_error(client.get("/v1/scans", params={"since": "yesterday"}), 422, "invalid_request")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/scans/iso-theirs", None),
        ("GET", "/v1/scans/iso-theirs/image", None),
        ("GET", "/v1/scans/iso-theirs/annotated", None),
        ("GET", "/v1/scans/iso-theirs/reviews", None),
    ],
)
def test_a_station_sees_only_its_own_scans(server, method: str, path: str, body: dict[str, Any] | None) -> None:
    """Issue 19.13: another station's scan answers exactly as a missing one (404, same message), and nothing is stored."""
    owner = create_station_key(server.settings, station="iso-owner")
    intruder = create_station_key(server.settings, station="iso-intruder")
    with httpx.Client(base_url=server.url, headers={"X-API-Key": owner}) as mine, \
            httpx.Client(base_url=server.url, headers={"X-API-Key": intruder}) as theirs:
        if mine.get("/v1/scans/iso-theirs").status_code == 404:
            assert post_scan(mine, png_bytes(seed=3), scan_id="iso-theirs").status_code == 201
        refused = theirs.request(method, path, json=body)
        missing = theirs.request(method, path.replace("iso-theirs", "iso-nowhere"), json=body)
        assert_error(refused, 404, "scan_not_found")
        assert refused.json()["error"]["message"].replace("iso-theirs", "X") == missing.json()["error"]["message"].replace("iso-nowhere", "X")
        assert mine.request(method, path, json=body).status_code == 200
        assert theirs.get("/v1/scans").json()["total"] == 0
        assert "iso-intruder" not in [r["station"] for r in mine.get("/v1/scans/iso-theirs/reviews").json()]
        # Re-sending the id from another station is refused as any reused id is; whose it is stays unsaid.
        conflict = post_scan(theirs, png_bytes(seed=3), scan_id="iso-theirs")
        assert_error(conflict, 409, "scan_conflict")
        assert "station" not in conflict.json()["error"]["message"]


def _npz(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "rules"),
    [
        (png_bytes(np.zeros((1, 1, 3), np.uint8)), ["too_small"]),
        (png_bytes(np.zeros((600, 800, 3), np.uint8)), ["blank", "opaque_area"]),
        (png_bytes(np.full((600, 800, 3), 255, np.uint8)), ["blank", "saturated"]),
    ],
)
def test_a_scan_with_no_content_is_inspected_not_cleared(client: httpx.Client, data: bytes, rules: list[str]) -> None:
    """Issue 19.12: each of these was `201 clear` with no detections."""
    response = post_scan(client, data)
    assert response.status_code == 201, response.text
    decision = response.json()["decision"]
    assert decision["verdict"] == "inspect" and [r["rule"] for r in decision["reasons"]] == rules
    assert all(r["detection"] is None and r["class_name"] is None for r in decision["reasons"])
    stored = client.get(f"/v1/scans/{response.json()['scan_id']}").json()
    assert stored["decision"] == decision


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_raw_data_is_refused(client: httpx.Client, server, value: float) -> None:
    before = stored_count(server.settings)
    raw = np.full((64, 96), value, np.float32)
    response = post_scan(client, _npz(low=raw, high=raw))
    assert_error(response, 422, "scan_undecodable")
    assert "NaN or infinite" in response.json()["error"]["message"]
    assert stored_count(server.settings) == before


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"offset": "9223372036854775808"}, "offset"),  # issue 19.4: each of these three was a 500
        ({"since": "0001-01-01T00:00:00+14:00"}, "since"),
        ({"until": "9999-12-31T23:59:59-14:00"}, "until"),
        ({"offset": "-1"}, "offset"),
        ({"verdcit": "hold"}, "verdcit"),  # issue 19.7: a misspelt filter listed everything
        ({"verdict": "hold", "page": "2"}, "page"),
        ({"reviewed": "perhaps"}, "reviewed"),
    ],
)
def test_bad_list_queries_are_422_in_one_sentence(client: httpx.Client, params: dict[str, str], names: str) -> None:
    response = client.get("/v1/scans", params=params)
    assert_error(response, 422, "invalid_request")
    message = response.json()["error"]["message"]
    assert names in message and "\n" not in message
    assert client.get("/v1/scans").status_code == 200  # the connection and the service are fine


def test_list_by_item_ref_and_reviewed(server, officer: httpx.Client) -> None:
    key = create_station_key(server.settings, station="lookup")
    with httpx.Client(base_url=server.url, headers={"X-API-Key": key}) as client:
        for i, ref in enumerate(["PARCEL-A", "PARCEL-A", "PARCEL-B"]):
            assert post_scan(client, png_bytes(seed=20 + i), scan_id=f"lookup-{i}", item_ref=ref).status_code == 201
        assert officer.post("/v1/scans/lookup-1/review", json={"outcome": "false_alarm"}).status_code == 201

        def ids(**params: str) -> list[str]:
            return [s["scan_id"] for s in client.get("/v1/scans", params=params).json()["items"]]

        assert ids(item_ref="PARCEL-A") == ["lookup-1", "lookup-0"]
        assert ids(item_ref="PARCEL-C") == []
        assert ids(reviewed="true") == ["lookup-1"]
        assert ids(reviewed="false") == ["lookup-2", "lookup-0"]
        assert ids(item_ref="PARCEL-A", reviewed="false") == ["lookup-0"]


def test_station_declares_pixel_pitch(client: httpx.Client, server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19.9: `pixel_pitch_mm` is accepted, reaches the engine with this scan, and is stored and returned."""
    engine = server.app.state.service.engine
    seen: list[float | None] = []
    original = engine.predict_scans

    def spy(scans: Any, **kwargs: Any) -> Any:
        seen.extend(scan.pixel_pitch_mm for scan in scans)
        return original(scans, **kwargs)

    monkeypatch.setattr(engine, "predict_scans", spy)
    response = post_scan(client, png_bytes(seed=31), scan_id="pitch-1", pixel_pitch_mm="0.8")
    assert response.status_code == 201, response.text
    assert response.json()["image"]["pixel_pitch_mm"] == pytest.approx(0.8)
    assert client.get("/v1/scans/pitch-1").json()["image"]["pixel_pitch_mm"] == pytest.approx(0.8)
    assert seen == [pytest.approx(0.8)]
    plain = post_scan(client, png_bytes(seed=32), scan_id="pitch-none")
    assert plain.status_code == 201 and plain.json()["image"]["pixel_pitch_mm"] is None


@pytest.mark.parametrize("pitch", ["0", "-0.5", "10.5", "1e9", "nan", "inf", "wide"])
def test_bad_pixel_pitch_is_refused(client: httpx.Client, server: Any, pitch: str) -> None:
    before = stored_count(server.settings)
    response = post_scan(client, png_bytes(seed=33), pixel_pitch_mm=pitch)
    assert_error(response, 422, "invalid_request")
    assert "pixel_pitch_mm" in response.json()["error"]["message"]
    assert stored_count(server.settings) == before
