"""Probes, metrics, the model list and the OpenAPI document."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.factories import DEFAULT_POLICY_VERSION
from tests.serving.api.helpers import assert_error, post_scan
from tests.serving.conftest import METRICS_TOKEN, live_server, scrape_metrics
from tests.serving.images import png_bytes


def test_healthz_and_readyz_need_no_key(server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"model": True, "batcher": True, "database": True, "disk": True}, "model": "tiny:1", "variant": "fp32", "instances": 2, "policy": DEFAULT_POLICY_VERSION}


def test_readyz_is_503_while_the_database_is_unreachable(server) -> None:
    service = server.app.state.service
    real = service.db
    try:
        from xscreen.serving.store.db import make_engine

        service.db = make_engine("postgresql://nobody:nothing@127.0.0.1:9/none")  # a closed loopback port
        response = httpx.get(f"{server.url}/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_ready" and response.json()["checks"]["database"] is False
    finally:
        service.db = real
    assert httpx.get(f"{server.url}/readyz").status_code == 200


def test_readyz_is_503_when_the_data_disk_is_nearly_full(server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19.5: below `min_free_disk_bytes` free where the database and scans live, /readyz is not ready."""
    from xscreen.serving.api import service as service_module

    service = server.app.state.service
    minimum = service.settings.min_free_disk_bytes
    probed: list[Path] = []

    def nearly_full(path: Path) -> int:
        probed.append(path)
        return minimum - 1

    monkeypatch.setattr(service_module, "disk_free_bytes", nearly_full)
    response = httpx.get(f"{server.url}/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["disk"] is False and "disk" in response.json()["error"]["message"]
    assert set(probed) == {service.settings.data_dir, service.settings.data_dir / "scans"}
    monkeypatch.setattr(service_module, "disk_free_bytes", lambda path: minimum)
    assert httpx.get(f"{server.url}/readyz").status_code == 200


def test_metrics_count_requests_batches_decisions_and_model(client: httpx.Client, server) -> None:
    assert post_scan(client, png_bytes(), scan_id="metrics-1").status_code == 201
    client.get("/v1/scans/metrics-1")
    client.get("/v1/scans/unknown-one")
    text = scrape_metrics(server.url)
    assert 'xscreen_http_requests_total{method="POST",route="/v1/scans",status="201"}' in text
    assert 'xscreen_http_requests_total{method="GET",route="/v1/scans/{scan_id}",status="200"}' in text
    assert 'xscreen_http_requests_total{method="GET",route="/v1/scans/{scan_id}",status="404"}' in text
    assert "xscreen_http_request_duration_seconds_bucket" in text
    assert "xscreen_batch_size_count" in text and "xscreen_batch_inference_seconds_count" in text
    assert "xscreen_queue_depth 0.0" in text
    assert 'xscreen_decisions_total{verdict="clear"}' in text
    assert 'xscreen_errors_total{code="scan_not_found"}' in text
    assert f'xscreen_model_info{{model="tiny",policy="{DEFAULT_POLICY_VERSION}",version="1"}} 1.0' in text
    assert "xscreen_scans_stored_total" in text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"X-API-Key": "use-the-station-key"},  # replaced by the station's real key below
    ],
    ids=["none", "wrong-token", "not-bearer", "token-plus-one", "station-key"],
)
def test_metrics_are_closed_without_the_bearer_token(server, api_key: str, headers: dict[str, str]) -> None:
    # Issue 19.13: /metrics listens where the stations do; a station key, or no credential, reads nothing.
    if "X-API-Key" in headers:
        headers = {"X-API-Key": api_key}
    response = httpx.get(f"{server.url}/metrics", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert "xscreen_" not in response.text


def test_metrics_are_closed_to_everyone_when_no_token_is_set(make_settings) -> None:
    with live_server(make_settings(metrics_token=None)) as srv:
        response = httpx.get(f"{srv.url}/metrics", headers={"Authorization": "Bearer anything"})
        assert_error(response, 401, "unauthorized")
        assert "metrics_token" in response.json()["error"]["message"]


def test_models_lists_the_registry_and_marks_the_served_one(client: httpx.Client) -> None:
    models = client.get("/v1/models").json()
    assert [(m["ref"], m["default"], m["serving"]) for m in models] == [("tiny:1", True, True)]
    assert models[0]["imgsz"] == 64 and "firearm" in models[0]["classes"] and models[0]["variants"][0] == "fp32"


def test_openapi_documents_the_station_contract(server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    post = spec["paths"]["/v1/scans"]["post"]
    assert {"multipart/form-data", "application/octet-stream"} <= set(post["requestBody"]["content"])
    assert {"200", "201", "400", "401", "403", "409", "413", "415", "422", "429"} <= set(post["responses"])
    assert "X-API-Key" in str(spec["components"]["securitySchemes"])
    for path in ("/v1/scans/{scan_id}", "/v1/scans/{scan_id}/image", "/v1/scans/{scan_id}/annotated", "/v1/scans/{scan_id}/review", "/v1/models", "/readyz", "/metrics"):
        assert path in spec["paths"], path


def test_scans_answer_503_while_the_database_is_unreachable(server, client: httpx.Client) -> None:
    from sqlalchemy.orm import sessionmaker

    from xscreen.serving.store.db import make_engine

    service = server.app.state.service
    real = service.sessions
    try:
        service.sessions = sessionmaker(make_engine("postgresql://nobody:nothing@127.0.0.1:9/none"))
        response = post_scan(client, png_bytes(), scan_id="db-down")
        assert response.status_code == 503 and response.json()["error"]["code"] == "service_unavailable"
    finally:
        service.sessions = real
    assert post_scan(client, png_bytes(), scan_id="db-down").status_code == 201  # the station resends it


def test_docs_work_offline(server) -> None:
    """Issue 19.10: /docs and /redoc load their scripts and styles from the service itself, not a CDN."""
    import re

    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{server.url}{page}").text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
        assert assets, html
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            response = httpx.get(f"{server.url}{asset}")
            assert response.status_code == 200 and len(response.content) > 1000, asset
        assert "/openapi.json" in html


def test_the_service_runs_the_int8_variant_when_settings_say_so(make_settings, tiny_int8_models_dir: Path) -> None:
    """Issue 20: `variant: int8` makes the service load model-int8.onnx, and /readyz says which variant screens."""
    from tests.serving.conftest import create_station_key, live_server

    settings = make_settings(models_dir=tiny_int8_models_dir, variant="int8")
    with live_server(settings) as server:
        ready = httpx.get(f"{server.url}/readyz").json()
        assert (ready["status"], ready["model"], ready["variant"]) == ("ready", "tiny:1", "int8")
        assert server.app.state.service.engine.model_path.name == "model-int8.onnx"
        with httpx.Client(base_url=server.url, headers={"X-API-Key": create_station_key(settings)}) as client:
            assert post_scan(client, png_bytes(), scan_id="int8-1").status_code == 201


@pytest.mark.parametrize("instances", [1, 2])
def test_the_service_screens_with_the_engine_instances_settings_give(make_settings, instances: int) -> None:
    """Issue 20: `engine_instances` batches run at once (each a single-threaded call here); /readyz says how many."""
    from tests.serving.conftest import create_station_key, live_server

    settings = make_settings(engine_instances=instances, max_batch_size=1)
    with live_server(settings) as server:
        ready = httpx.get(f"{server.url}/readyz").json()
        assert (ready["status"], ready["instances"]) == ("ready", instances)
        assert server.app.state.service.batcher.instances == instances
        with httpx.Client(base_url=server.url, headers={"X-API-Key": create_station_key(settings)}) as client:
            with ThreadPoolExecutor(max_workers=4) as pool:
                statuses = list(pool.map(lambda i: post_scan(client, png_bytes(), scan_id=f"inst-{i}").status_code, range(6)))
        assert statuses == [201] * 6


def test_a_variant_the_model_does_not_ship_stops_the_service_at_start(make_settings) -> None:
    from xscreen.errors import ModelNotFound
    from xscreen.serving.api.service import open_service
    from xscreen.serving.metrics import ServiceMetrics

    with pytest.raises(ModelNotFound, match="has no int8 variant"):
        open_service(make_settings(variant="int8"), ServiceMetrics())
