"""Officers and roles over real HTTP: sign-in, cookie sessions with CSRF, what a station key and an officer
session may each do, the queue, and that every review names the officer who made it."""

from __future__ import annotations

import httpx
import pytest

from tests.serving.api.helpers import assert_error, post_scan, stored_count
from tests.serving.conftest import LiveServer, create_officer, create_station_key, signed_in
from tests.serving.images import png_bytes
from xscreen.serving.store.db import open_database
from xscreen.serving.store.records import ReviewRecord


def test_sign_in_sets_a_strict_http_only_cookie_and_gives_the_csrf_token(server: LiveServer, officer_password: str) -> None:
    with httpx.Client(base_url=server.url) as c:
        response = c.post("/v1/session", json={"name": "officer-1", "password": officer_password})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["officer"] == "officer-1" and body["role"] == "officer" and len(body["csrf_token"]) >= 32
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith("xscreen_session=") and "httponly" in cookie and "samesite=strict" in cookie
        again = c.get("/v1/session").json()
        assert again["csrf_token"] == body["csrf_token"] and again["officer"] == "officer-1"


def test_wrong_password_and_unknown_name_are_the_same_401(server: LiveServer, officer_password: str) -> None:
    wrong = httpx.post(f"{server.url}/v1/session", json={"name": "officer-1", "password": officer_password + "x"})
    unknown = httpx.post(f"{server.url}/v1/session", json={"name": "nobody-here", "password": officer_password})
    assert_error(wrong, 401, "unauthorized")
    assert_error(unknown, 401, "unauthorized")
    assert wrong.json() == unknown.json() and "set-cookie" not in wrong.headers
    assert_error(httpx.get(f"{server.url}/v1/session"), 401, "unauthorized")


def test_a_station_key_cannot_review(server: LiveServer, client: httpx.Client) -> None:
    assert post_scan(client, png_bytes(seed=40), scan_id="role-station-review").status_code == 201
    assert_error(client.post("/v1/scans/role-station-review/review", json={"outcome": "false_alarm"}), 403, "forbidden")
    assert_error(httpx.post(f"{server.url}/v1/scans/role-station-review/review", json={"outcome": "false_alarm"}), 401, "unauthorized")
    assert_error(client.get("/v1/queue"), 403, "forbidden")
    assert client.get("/v1/scans/role-station-review/reviews").json() == []


def test_an_officer_session_cannot_submit_scans(server: LiveServer, officer: httpx.Client) -> None:
    before = stored_count(server.settings)
    assert_error(post_scan(officer, png_bytes(seed=41), scan_id="role-officer-submit"), 403, "forbidden")
    assert stored_count(server.settings) == before


def test_a_change_without_the_csrf_token_is_refused(server: LiveServer, client: httpx.Client, officer: httpx.Client) -> None:
    assert post_scan(client, png_bytes(seed=42), scan_id="role-csrf").status_code == 201
    review = {"outcome": "false_alarm"}
    no_token = officer.post("/v1/scans/role-csrf/review", json=review, headers={"X-CSRF-Token": ""})
    wrong_token = officer.post("/v1/scans/role-csrf/review", json=review, headers={"X-CSRF-Token": "forged"})
    assert_error(no_token, 403, "csrf_rejected")
    assert_error(wrong_token, 403, "csrf_rejected")
    assert officer.get("/v1/scans/role-csrf/reviews").json() == []
    assert officer.post("/v1/scans/role-csrf/review", json=review).status_code == 201  # the page's own token


def test_officers_read_every_station_and_reviews_name_them(server: LiveServer, officer: httpx.Client) -> None:
    stations = {name: create_station_key(server.settings, station=name) for name in ("read-a", "read-b")}
    for name, key in stations.items():
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}) as station:
            assert post_scan(station, png_bytes(seed=43 if name == "read-a" else 44), scan_id=f"{name}-1").status_code == 201
    for name in stations:
        assert officer.get("/v1/scans", params={"station": name}).json()["total"] == 1
        assert officer.get(f"/v1/scans/{name}-1").json()["station"] == name
        assert officer.get(f"/v1/scans/{name}-1/image").status_code == 200
    made = officer.post("/v1/scans/read-b-1/review", json={"outcome": "threat_confirmed", "classes": ["knife"], "note": "in a boot"})
    assert made.status_code == 201, made.text
    engine, sessions = open_database(server.settings.effective_database_url)
    try:
        with sessions() as session:
            stored = session.get(ReviewRecord, made.json()["id"])
            assert stored is not None and stored.officer == "officer-1" and stored.officer_id is not None and stored.station is None
    finally:
        engine.dispose()
    with httpx.Client(base_url=server.url, headers={"X-API-Key": stations["read-a"]}) as station:
        assert_error(station.get("/v1/scans/read-b-1"), 404, "scan_not_found")  # station isolation holds


def test_queue_filters_and_refusals(server: LiveServer, officer: httpx.Client) -> None:
    assert officer.get("/v1/queue", params={"verdict": "clear"}).json() == {"items": [], "total": 0, "limit": 50, "offset": 0}
    assert officer.get("/v1/queue").status_code == 200
    assert_error(officer.get("/v1/queue", params={"reviewed": "true"}), 422, "invalid_request")
    assert_error(officer.get("/v1/queue", params={"class_name": "bazooka"}), 422, "invalid_request")
    assert_error(httpx.get(f"{server.url}/v1/queue"), 401, "unauthorized")


def test_sign_out_and_disable_end_sessions(server: LiveServer) -> None:
    from xscreen.serving.officers import disable_officer

    password = create_officer(server.settings, name="short-shift")
    with signed_in(server.url, "short-shift", password) as first, signed_in(server.url, "short-shift", password) as second:
        assert first.delete("/v1/session").status_code == 204
        assert_error(first.get("/v1/session"), 401, "unauthorized")
        assert second.get("/v1/queue").status_code == 200
        engine, sessions = open_database(server.settings.effective_database_url)
        try:
            with sessions() as session:
                disable_officer(session=session, name="short-shift")
        finally:
            engine.dispose()
        assert_error(second.get("/v1/queue"), 401, "unauthorized")
    assert_error(httpx.post(f"{server.url}/v1/session", json={"name": "short-shift", "password": password}), 401, "unauthorized")


@pytest.mark.parametrize(("role", "status"), [("officer", 403), ("admin", 200)])
def test_only_admins_list_officers(server: LiveServer, role: str, status: int) -> None:
    name = f"lister-{role}"
    with signed_in(server.url, name, create_officer(server.settings, name=name, role=role)) as c:
        response = c.get("/v1/officers")
        assert response.status_code == status, response.text
        if status == 200:
            listed = {o["name"]: o["role"] for o in response.json()}
            assert listed[name] == "admin" and "password_hash" not in response.text
