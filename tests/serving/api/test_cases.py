"""Cases over real HTTP: a hold opens one in the scan's transaction, a parcel's next hold joins it, officers list,
read and move cases, and the outbox row is there with the case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
from typer.testing import CliRunner

from tests.serving.api.helpers import assert_error, post_scan
from tests.serving.conftest import GUN_POLICY, METRICS_TOKEN, LiveServer, create_officer, create_station_key, live_server, signed_in
from tests.serving.images import png_bytes
from xscreen.serving.store.db import open_database
from xscreen.serving.store.records import CaseRecord, OutboxRecord, ScanRecord
from xscreen.settings import Settings


@pytest.fixture
def gun_settings(make_settings: Callable[..., Settings], gun_models_dir: Path, tmp_path: Path) -> Settings:
    policy = tmp_path / "gun-policy.yaml"
    policy.write_text(GUN_POLICY)
    # A receiver nobody listens on: the outbox row must exist whether or not anyone can be reached.
    return make_settings(models_dir=gun_models_dir, policy_file=policy, webhook_url="http://127.0.0.1:9/hook",
                         webhook_secret="s" * 32, public_url="https://xscreen.example")


@pytest.fixture
def served(gun_settings: Settings) -> Iterator[tuple[LiveServer, httpx.Client, httpx.Client]]:
    station, password = create_station_key(gun_settings), create_officer(gun_settings, "desk-1")
    with live_server(gun_settings) as srv, httpx.Client(base_url=srv.url, headers={"X-API-Key": station}, timeout=60) as s, \
            signed_in(srv.url, "desk-1", password) as officer:
        yield srv, s, officer


def test_a_held_gun_scan_with_item_ref_opens_a_case(served: tuple[LiveServer, httpx.Client, httpx.Client]) -> None:
    srv, station, officer = served
    scan = post_scan(station, png_bytes(), scan_id="gun-1", item_ref="CP123DE", declared_contents="clothes", origin="FR").json()
    assert scan["decision"]["verdict"] == "hold", [(d["class_name"], d["score"]) for d in scan["detections"]]
    assert {r["category"] for r in scan["decision"]["reasons"] if r["verdict"] == "hold"} == {"firearms"}
    page = officer.get("/v1/cases").json()
    assert page["total"] == 1
    (case,) = page["items"]
    assert (case["state"], case["item_ref"], case["station"], case["scan_ids"]) == ("open", "CP123DE", "station-1", ["gun-1"])
    assert case["categories"] == ["firearms"] and (case["declared_contents"], case["origin"]) == ("clothes", "FR")
    (held,) = case["scans"]
    assert held["detections"] == scan["detections"] and held["decision"] == scan["decision"]
    assert held["links"] == {"scan": "https://xscreen.example/v1/scans/gun-1", "image": "https://xscreen.example/v1/scans/gun-1/image",
                             "annotated": "https://xscreen.example/v1/scans/gun-1/annotated"}
    assert [(e["event"], e["actor"]) for e in case["history"]] == [("case.opened", "station:station-1")]
    assert officer.get(f"/v1/cases/{case['case_id']}").json() == case
    metrics = httpx.get(f"{srv.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert 'xscreen_cases_total{event="opened"} 1.0' in metrics
    # Written with the case: the notification owed to the receiver, with the case as the API shows it.
    engine, sessions = open_database(srv.settings.effective_database_url)
    try:
        with sessions() as session:
            (row,) = session.query(OutboxRecord).all()
            assert (row.event, row.case_id, row.receiver, row.payload["scan_id"]) == ("case.opened", case["case_id"], "default", "gun-1")
            assert row.payload["case"]["scan_ids"] == ["gun-1"]
    finally:
        engine.dispose()


def test_a_parcel_under_an_open_case_joins_it(served: tuple[LiveServer, httpx.Client, httpx.Client]) -> None:
    _, station, officer = served
    post_scan(station, png_bytes(), scan_id="p-top", item_ref="P-1", view="top")
    post_scan(station, png_bytes(seed=3), scan_id="p-side", item_ref="P-1", view="side")
    post_scan(station, png_bytes(seed=4), scan_id="other", item_ref="P-2")
    post_scan(station, png_bytes(seed=5), scan_id="no-ref")  # no parcel reference: a case of its own
    assert post_scan(station, png_bytes(), scan_id="p-top", item_ref="P-1", view="top").status_code == 200  # a replay adds nothing
    page = officer.get("/v1/cases").json()
    assert page["total"] == 3
    (p1,) = officer.get("/v1/cases", params={"item_ref": "P-1"}).json()["items"]
    assert p1["scan_ids"] == ["p-top", "p-side"]
    assert [e["event"] for e in p1["history"]] == ["case.opened", "case.scan_attached"]


def test_states_move_open_assigned_seized_with_who_and_when(served: tuple[LiveServer, httpx.Client, httpx.Client]) -> None:
    _, station, officer = served
    post_scan(station, png_bytes(), scan_id="s-1", item_ref="P-9")
    case_id = officer.get("/v1/cases").json()["items"][0]["case_id"]
    assert_error(officer.post(f"/v1/cases/{case_id}/state", json={"state": "seized"}), 409, "case_state_conflict")  # not assigned yet
    assert_error(officer.post(f"/v1/cases/{case_id}/state", json={"state": "assigned"}), 409, "case_state_conflict")  # who?
    assigned = officer.post(f"/v1/cases/{case_id}/state", json={"state": "assigned", "assignee": "officer-7"}).json()
    assert (assigned["state"], assigned["assignee"]) == ("assigned", "officer-7")
    seized = officer.post(f"/v1/cases/{case_id}/state", json={"state": "seized", "note": "pistol frame found"}).json()
    assert seized["state"] == "seized"
    steps = [(e["event"], e["state"], e["actor"], e["note"]) for e in seized["history"]]
    assert steps == [("case.opened", "open", "station:station-1", None), ("case.state_changed", "assigned", "officer:desk-1", None),
                     ("case.state_changed", "seized", "officer:desk-1", "pistol frame found")]
    assert all(e["at"] for e in seized["history"])
    assert_error(officer.post(f"/v1/cases/{case_id}/state", json={"state": "released"}), 409, "case_state_conflict")  # closed
    assert [c["case_id"] for c in officer.get("/v1/cases", params={"state": "seized"}).json()["items"]] == [case_id]
    assert officer.get("/v1/cases", params={"state": "open"}).json()["total"] == 0
    # Closed: the parcel's next hold opens a new case.
    post_scan(station, png_bytes(seed=7), scan_id="s-2", item_ref="P-9")
    assert officer.get("/v1/cases", params={"item_ref": "P-9"}).json()["total"] == 2
    deliveries = officer.get("/v1/deliveries", params={"case_id": case_id}).json()
    assert [d["event"] for d in deliveries["items"]] == ["case.state_changed", "case.state_changed", "case.opened"]  # newest first


def test_filters_and_bad_queries(served: tuple[LiveServer, httpx.Client, httpx.Client]) -> None:
    _, station, officer = served
    post_scan(station, png_bytes(), scan_id="f-1", item_ref="F-1")
    opened = officer.get("/v1/cases").json()["items"][0]["opened_at"]
    assert officer.get("/v1/cases", params={"category": "firearms"}).json()["total"] == 1
    assert officer.get("/v1/cases", params={"category": "drugs"}).json()["total"] == 0
    assert officer.get("/v1/cases", params={"since": opened}).json()["total"] == 1
    assert officer.get("/v1/cases", params={"until": opened}).json()["total"] == 0
    for params in ({"category": "explosives"}, {"state": "closed"}, {"verdict": "hold"}, {"limit": 0}):
        assert_error(officer.get("/v1/cases", params=params), 422, "invalid_request")
    assert_error(officer.get("/v1/cases/case-nope"), 404, "case_not_found")
    assert_error(officer.post("/v1/cases/case-nope/state", json={"state": "seized"}), 404, "case_not_found")



def test_cases_need_an_officer(served: tuple[LiveServer, httpx.Client, httpx.Client]) -> None:
    srv, station, officer = served
    post_scan(station, png_bytes(), scan_id="auth-1", item_ref="A-1")
    case_id = officer.get("/v1/cases").json()["items"][0]["case_id"]
    assert_error(station.get("/v1/cases"), 403, "forbidden")
    assert_error(station.get(f"/v1/cases/{case_id}"), 403, "forbidden")
    assert_error(station.post(f"/v1/cases/{case_id}/state", json={"state": "assigned", "assignee": "x"}), 403, "forbidden")
    assert_error(station.get("/v1/deliveries"), 403, "forbidden")
    assert_error(httpx.get(f"{srv.url}/v1/cases"), 401, "unauthorized")
    no_csrf = httpx.post(f"{srv.url}/v1/cases/{case_id}/state", json={"state": "assigned", "assignee": "x"}, cookies=officer.cookies)
    assert_error(no_csrf, 403, "csrf_rejected")
    dead = officer.get("/v1/deliveries", params={"status": "dead"}).json()
    assert dead["total"] == 0
    (row,) = officer.get("/v1/deliveries").json()["items"]
    assert_error(officer.post(f"/v1/deliveries/{row['id']}/retry"), 403, "forbidden")  # sending again is an admin's call
    with signed_in(srv.url, "chief", create_officer(srv.settings, "chief", role="admin")) as admin:
        assert_error(admin.post(f"/v1/deliveries/{row['id']}/retry"), 409, "delivery_not_dead")


def test_an_inspect_opens_no_case(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    """The shipped policy on the tiny model: its weak boxes are dropped, so nothing holds and no case opens."""
    settings = make_settings()
    station, password = create_station_key(settings), create_officer(settings)
    with live_server(settings) as srv, signed_in(srv.url, "officer-1", password) as officer:
        assert httpx.post(f"{srv.url}/v1/scans", headers={"X-API-Key": station}, files={"file": ("a.png", png_bytes())}).status_code == 201
        assert officer.get("/v1/cases").json()["total"] == 0


def test_cli_lists_and_shows_cases(served: tuple[LiveServer, httpx.Client, httpx.Client], monkeypatch: pytest.MonkeyPatch) -> None:
    srv, station, officer = served
    post_scan(station, png_bytes(), scan_id="cli-1", item_ref="CLI-1")
    monkeypatch.setenv("XSCREEN_DATA_DIR", str(srv.settings.data_dir))
    from xscreen.cli import app
    from xscreen.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    listed = runner.invoke(app, ["cases", "list", "--item-ref", "CLI-1", "--json"])
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.stdout)
    assert page["total"] == 1 and page["items"][0]["scan_ids"] == ["cli-1"]
    case_id = page["items"][0]["case_id"]
    shown = runner.invoke(app, ["cases", "show", case_id, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["case_id"] == case_id
    assert runner.invoke(app, ["cases", "show", case_id]).exit_code == 0  # the human view renders
    assert runner.invoke(app, ["cases", "list"]).exit_code == 0
    missing = runner.invoke(app, ["cases", "show", "case-nope"])
    assert missing.exit_code == 1
    bad = runner.invoke(app, ["cases", "list", "--state", "closed"])
    assert bad.exit_code != 0
    get_settings.cache_clear()


def test_the_case_commits_with_the_scan(served: tuple[LiveServer, httpx.Client, httpx.Client]) -> None:
    srv, station, _ = served
    post_scan(station, png_bytes(), scan_id="tx-1", item_ref="TX-1")
    engine, sessions = open_database(srv.settings.effective_database_url)
    try:
        with sessions() as session:
            scan = session.get(ScanRecord, "tx-1")
            (case,) = session.query(CaseRecord).all()
            assert scan is not None and [link.scan_id for link in case.scans] == ["tx-1"]
    finally:
        engine.dispose()
