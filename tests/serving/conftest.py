"""Serving fixtures: settings on the tiny registry model, a real uvicorn server on loopback, station keys."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from xscreen.settings import Settings

METRICS_TOKEN = "test-metrics-token"


def scrape_metrics(url: str) -> str:
    """GET /metrics with the test settings' bearer token, as Prometheus scrapes it."""
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    response.raise_for_status()
    return response.text


def settings_for(data_dir: Path, models_dir: Path, **overrides: Any) -> Settings:
    """Settings on a test registry, CPU only, everything under data_dir; keyword overrides win."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "models_dir": models_dir,
        "providers": ["CPUExecutionProvider"],
        "intra_op_threads": 1,
        "engine_instances": 2,  # concurrent batches in every service test, whatever the host's core count
        "max_queue_delay_ms": 2.0,
        "metrics_token": METRICS_TOKEN,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def make_settings(tmp_path: Path, tiny_models_dir: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        models_dir = overrides.pop("models_dir", tiny_models_dir)
        return settings_for(tmp_path / "data", models_dir, **overrides)

    return make


class LiveServer:
    """uvicorn serving `create_app(settings)` in a thread on a free loopback port: real HTTP, real lifespan."""

    def __init__(self, settings: Settings, *, graceful_timeout: float = 10.0) -> None:
        import uvicorn

        from xscreen.serving.api.app import create_app
        from xscreen.serving.api.server import uvicorn_config

        self.settings = settings
        self.app = create_app(settings)
        # The settings' connection limits and timeouts, as `xscreen serve` applies them.
        config = uvicorn_config(self.app, settings, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=graceful_timeout)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start (see the log above)")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextmanager
def live_server(settings: Settings, **kwargs: Any) -> Iterator[LiveServer]:
    server = LiveServer(settings, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Iterator[LiveServer]:
    """One server per test module on default settings (starting one costs a second or two); tests that
    need their own configuration start theirs with `live_server`."""
    settings = settings_for(tmp_path_factory.mktemp("served") / "data", tiny_models_dir)
    with live_server(settings) as srv:
        yield srv


def create_station_key(settings: Settings, station: str = "station-1") -> str:
    from xscreen.serving.auth import create_key
    from xscreen.serving.store.db import open_database

    engine, sessions = open_database(settings.effective_database_url)
    try:
        with sessions() as session:
            key, _ = create_key(session=session, station=station)
    finally:
        engine.dispose()
    return key


def create_officer(settings: Settings, name: str = "officer-1", role: str = "officer") -> str:
    """A new officer in the server's database; returns the generated password."""
    from xscreen.serving.officers import create_officer as create
    from xscreen.serving.store.db import open_database

    engine, sessions = open_database(settings.effective_database_url)
    try:
        with sessions() as session:
            password, _ = create(session=session, name=name, role=role)
    finally:
        engine.dispose()
    return password


@contextmanager
def signed_in(base_url: str, name: str, password: str) -> Iterator[httpx.Client]:
    """An httpx client holding an officer's session cookie and sending its CSRF token, as the page does."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        response = client.post("/v1/session", json={"name": name, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield client


@pytest.fixture(scope="module")
def officer_password(server: LiveServer) -> str:
    return create_officer(server.settings)


@pytest.fixture
def officer(server: LiveServer, officer_password: str) -> Iterator[httpx.Client]:
    """A signed-in officer's client ("officer-1") on the module's server."""
    with signed_in(server.url, "officer-1", officer_password) as c:
        yield c


@pytest.fixture(scope="module")
def api_key(server: LiveServer) -> str:
    return create_station_key(server.settings)


@pytest.fixture
def client(server: LiveServer, api_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-API-Key": api_key}, timeout=60) as c:
        yield c


@pytest.fixture
def eager_models_dir(tmp_path: Path, tiny_models_dir: Path) -> Path:
    """The tiny model with its card's operating threshold near zero, so its weak boxes come out.

    The tiny model is trained for seconds and scores below its card's 0.05 everywhere; tests of what happens
    to boxes (storage, class filters, drawing, holds, exports) need some. Only the card changes (the card is
    not checksummed; model.onnx is, and stays as it was).
    """
    import json
    import shutil

    models_dir = tmp_path / "eager-models"
    shutil.copytree(tiny_models_dir / "tiny", models_dir / "tiny")
    (models_dir / "DEFAULT").write_text("tiny:1\n")
    card_path = models_dir / "tiny" / "1" / "card.json"
    card = json.loads(card_path.read_text())
    card["thresholds"]["conf"] = 0.0005
    card_path.write_text(json.dumps(card))
    return models_dir


EAGER_POLICY = """\
name: eager
version: 3
categories:
  firearms: {hold: 0.001, inspect: 0.0005}
  drugs: {hold: 0.001, inspect: 0.0005}
  weapons: {inspect: 0.0005}
"""


@pytest.fixture
def eager_settings(make_settings: Callable[..., Settings], eager_models_dir: Path, tmp_path: Path) -> Settings:
    """Settings whose model reports its weak boxes and whose policy holds on them."""
    policy = tmp_path / "eager-policy.yaml"
    policy.write_text(EAGER_POLICY)
    return make_settings(models_dir=eager_models_dir, policy_file=policy)


@pytest.fixture
def gun_models_dir(eager_models_dir: Path) -> Path:
    """The eager tiny model reporting its one steady weak box as a firearm: its card names output 6 (which
    fires on every scan, as drug_tablets) `firearm` and output 0 `drug_tablets`. The engine maps outputs to
    taxonomy classes by the card's names, so this is a model that sees a gun in every scan (held by GUN_POLICY)."""
    import json

    card_path = eager_models_dir / "tiny" / "1" / "card.json"
    card = json.loads(card_path.read_text())
    names = card["classes"]
    i, j = names.index("drug_tablets"), names.index("firearm")
    names[i], names[j] = names[j], names[i]
    card_path.write_text(json.dumps(card))
    return eager_models_dir


# Holds on firearms (parts, magazines and ammunition included) only, and opens cases for them.
GUN_POLICY = """\
name: gun-cases
version: 1
categories:
  firearms: {hold: 0.001, inspect: 0.0005}
  drugs: {inspect: 0.0005}
  weapons: {inspect: 0.0005}
cases:
  categories: [drugs, firearms]
"""
