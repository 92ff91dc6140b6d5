"""The serving commands: `keys create|list|revoke`, `reviews export`, and `serve` as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from tests.factories import free_port, wait_until_ready
from tests.serving.conftest import live_server, signed_in
from tests.serving.images import png_bytes, tiff16_bytes
from xscreen.cli import app
from xscreen.settings import Settings
from xscreen.vision.yolo import label_path

runner = CliRunner()


def xscreen(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout


def test_keys_create_list_revoke_against_the_served_database(settings_env: dict[str, str], make_settings) -> None:
    settings = make_settings()
    code, out = xscreen("keys", "create", "--station", "lane-7", "--json", env=settings_env)
    assert code == 0, out
    created = json.loads(out)
    assert created["station"] == "lane-7" and created["key"].startswith("xsk_")
    code, out = xscreen("keys", "create", "--station", "lane-8", env=settings_env)
    assert code == 0 and "xsk_" in out
    with live_server(settings) as srv:
        ok = httpx.get(f"{srv.url}/v1/scans", headers={"X-API-Key": created["key"]})
        assert ok.status_code == 200
        code, out = xscreen("keys", "list", "--json", env=settings_env)
        listed = json.loads(out)
        assert [(k["station"], k["revoked_at"]) for k in listed] == [("lane-7", None), ("lane-8", None)]
        assert created["key"] not in out  # never the key itself
        code, out = xscreen("keys", "revoke", created["key_id"], env=settings_env)
        assert code == 0 and created["key_id"] in out
        assert httpx.get(f"{srv.url}/v1/scans", headers={"X-API-Key": created["key"]}).status_code == 403
    code, _ = xscreen("keys", "revoke", created["key_id"], env=settings_env)
    assert code != 0  # nothing left to revoke
    code, _ = xscreen("keys", "revoke", "--station", "lane-8", env=settings_env)
    assert code == 0
    code, _ = xscreen("keys", "create", "--station", "bad name", env=settings_env)
    assert code != 0


def test_officers_create_list_disable_reset(settings_env: dict[str, str], make_settings) -> None:
    code, out = xscreen("officers", "create", "--name", "j.doe", "--json", env=settings_env)
    assert code == 0, out
    created = json.loads(out)
    assert created["name"] == "j.doe" and created["role"] == "officer" and len(created["password"]) >= 16
    assert xscreen("officers", "create", "--name", "boss", "--role", "admin", env=settings_env)[0] == 0
    assert xscreen("officers", "create", "--name", "j.doe", env=settings_env)[0] != 0  # taken
    assert xscreen("officers", "create", "--name", "x", "--role", "superuser", env=settings_env)[0] != 0
    assert xscreen("officers", "create", "--name", "two words", env=settings_env)[0] != 0
    code, out = xscreen("officers", "list", "--json", env=settings_env)
    assert [(o["name"], o["role"], o["disabled_at"]) for o in json.loads(out)] == [("boss", "admin", None), ("j.doe", "officer", None)]
    assert created["password"] not in out and "argon2" not in out
    with live_server(make_settings()) as srv:
        def sign_in(password: str) -> int:
            return httpx.post(f"{srv.url}/v1/session", json={"name": "j.doe", "password": password}).status_code

        assert sign_in(created["password"]) == 200
        assert xscreen("officers", "disable", "j.doe", env=settings_env)[0] == 0
        assert sign_in(created["password"]) == 401
        code, out = xscreen("officers", "reset-password", "j.doe", "--json", env=settings_env)
        assert code == 0
        assert sign_in(created["password"]) == 401 and sign_in(json.loads(out)["password"]) == 200
    assert xscreen("officers", "disable", "nobody", env=settings_env)[0] != 0


@pytest.fixture
def settings_env(tmp_path: Path, tiny_models_dir: Path) -> dict[str, str]:
    """The environment a command sees for `make_settings()`'s data dir (the CLI reads settings from env)."""
    return {"XSCREEN_DATA_DIR": str(tmp_path / "data"), "XSCREEN_MODELS_DIR": str(tiny_models_dir)}


def test_reviews_export_writes_a_yolo_dataset(eager_settings: Settings, tmp_path: Path) -> None:
    env = {"XSCREEN_DATA_DIR": str(eager_settings.data_dir)}
    code, out = xscreen("keys", "create", "--station", "desk", "--json", env=env)
    key = json.loads(out)["key"]
    code, out = xscreen("officers", "create", "--name", "desk-officer", "--json", env=env)
    assert code == 0, out
    password = json.loads(out)["password"]
    with live_server(eager_settings) as srv, httpx.Client(base_url=srv.url, headers={"X-API-Key": key}) as client, \
            signed_in(srv.url, "desk-officer", password) as officer:
        def scan(scan_id: str, data: bytes) -> dict:
            response = client.post("/v1/scans", files={"file": ("s", data, "application/octet-stream")}, data={"scan_id": scan_id})
            assert response.status_code == 201, response.text
            return response.json()

        boxed = scan("boxed:1", png_bytes(seed=0))
        model_boxes = scan("scan.v2", png_bytes(seed=1))
        scan("raw:16bit", tiff16_bytes())
        scan("unboxable", png_bytes(seed=2))
        scan("not-reviewed", png_bytes(seed=3))
        # issue 19.14: ids differing only after a dot once both became `LANE3.jpg`, with labels ultralytics never found
        scan("LANE3.000201", png_bytes(seed=4))
        scan("LANE3.000202", png_bytes(seed=5))
        confirmed_class = model_boxes["detections"][0]["class_name"]
        reviews = {
            "boxed:1": {"outcome": "threat_confirmed", "boxes": [{"class_name": "firearm_part", "box": [10, 20, 60, 80]}]},
            "scan.v2": {"outcome": "threat_confirmed", "classes": [confirmed_class]},
            "raw:16bit": {"outcome": "false_alarm", "note": "a toy"},
            "unboxable": {"outcome": "threat_confirmed", "classes": ["magazine", confirmed_class]},
            "LANE3.000201": {"outcome": "threat_confirmed", "boxes": [{"class_name": "firearm_part", "box": [1, 2, 30, 40]}]},
            "LANE3.000202": {"outcome": "clear"},  # released by the officer: a negative, as a false alarm is
        }
        if any(d["class_name"] == "magazine" for d in client.get("/v1/scans/unboxable").json()["detections"]):
            reviews["unboxable"]["classes"] = ["ammunition", confirmed_class]
        for sid, review in reviews.items():
            assert officer.post(f"/v1/scans/{sid}/review", json=review).status_code == 201
    out_dir = tmp_path / "export"
    code, out = xscreen("reviews", "export", "--out", str(out_dir), "--json", env=env)
    assert code == 0, out
    summary = json.loads(out)
    assert (summary["exported"], summary["confirmed"], summary["false_alarms"], summary["skipped"]) == (5, 3, 2, ["unboxable"])
    data = yaml.safe_load((out_dir / "data.yaml").read_text())
    assert data["names"][1] == "firearm_part" and len(data["names"]) == 9
    # A dotted scan id keeps its dots in both names (image `scan.v2.png` pairs with label `scan.v2.txt`).
    labels = {p.stem: p.read_text().splitlines() for p in (out_dir / "labels").glob("*.txt")}
    assert set(labels) == {f"boxed_1-{_h('boxed:1')}", "scan.v2", f"raw_16bit-{_h('raw:16bit')}", "LANE3.000201", "LANE3.000202"}
    assert len(labels["LANE3.000201"]) == 1 and labels["LANE3.000202"] == []
    w, h = boxed["image"]["width"], boxed["image"]["height"]
    cls, cx, cy, bw, bh = labels[f"boxed_1-{_h('boxed:1')}"][0].split()
    assert cls == "1" and float(cx) == pytest.approx(35 / w, abs=1e-5) and float(bh) == pytest.approx(60 / h, abs=1e-5)
    expected = [d for d in model_boxes["detections"] if d["class_name"] == confirmed_class]
    assert len(labels["scan.v2"]) == len(expected)
    assert labels[f"raw_16bit-{_h('raw:16bit')}"] == []  # a false alarm: hard negative
    images = sorted(p.name for p in (out_dir / "images").iterdir())
    assert {label_path(out_dir / "images" / name) for name in images} == set((out_dir / "labels").glob("*.txt"))
    from ultralytics.data.utils import img2label_paths  # the pairing training actually applies

    assert sorted(img2label_paths([str(out_dir / "images" / n) for n in images])) == sorted(str(p) for p in (out_dir / "labels").glob("*.txt"))
    assert images == sorted([f"boxed_1-{_h('boxed:1')}.png", "scan.v2.png", f"raw_16bit-{_h('raw:16bit')}.png", "LANE3.000201.png", "LANE3.000202.png"])
    for name, seed in (("scan.v2.png", 1), ("LANE3.000201.png", 4), ("LANE3.000202.png", 5)):
        assert (out_dir / "images" / name).read_bytes() == png_bytes(seed=seed)  # display images copied as sent, none overwritten
    manifest = [json.loads(line) for line in (out_dir / "reviews.jsonl").read_text().splitlines()]
    assert {m["scan_id"] for m in manifest} == set(reviews) and "skipped" in next(m for m in manifest if m["scan_id"] == "unboxable")
    assert {m["officer"] for m in manifest} == {"desk-officer"}


def _h(scan_id: str) -> str:
    import hashlib

    return hashlib.sha256(scan_id.encode()).hexdigest()[:8]


def test_serve_runs_the_service_and_stops_gracefully(tmp_path: Path, tiny_models_dir: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "XSCREEN_DATA_DIR": str(tmp_path / "data"),
        "XSCREEN_MODELS_DIR": str(tiny_models_dir),
        "XSCREEN_PROVIDERS": '["CPUExecutionProvider"]',
        "XSCREEN_INTRA_OP_THREADS": "1",
    }
    code, out = xscreen("keys", "create", "--station", "s1", "--json", env={"XSCREEN_DATA_DIR": env["XSCREEN_DATA_DIR"]})
    key = json.loads(out)["key"]
    process = subprocess.Popen([sys.executable, "-c", "from xscreen.cli import app; app()", "serve", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_ready(port, process)
        response = httpx.post(f"http://127.0.0.1:{port}/v1/scans", headers={"X-API-Key": key},
                              files={"file": ("s.png", png_bytes(), "image/png")}, data={"scan_id": "via-serve"})
        assert response.status_code == 201, response.text
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete, so -15 is a clean stop too.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "service stopped" in output and "Application shutdown complete" in output


def test_keys_commands_print_no_alembic_lines(tmp_path: Path) -> None:
    """A real process (logging is configured once per process): three alembic INFO lines preceded every output."""
    env = {**os.environ, "XSCREEN_DATA_DIR": str(tmp_path / "data")}
    for args in (["keys", "create", "--station", "lane-1", "--json"], ["keys", "list", "--json"]):
        done = subprocess.run([sys.executable, "-m", "xscreen.cli", *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
        json.loads(done.stdout)
