"""Probes and metrics, outside /v1 and without station keys: `/healthz` (alive), `/readyz` (model warmed up,
batcher running, database reachable, `min_free_disk_bytes` free where scans are stored), `/metrics`
(Prometheus, behind the `metrics_token` bearer token: it listens where the stations do, and its counters
tell a station about every other station's traffic and the model in use; issue 19.13)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from xscreen.errors import MetricsUnauthorized
from xscreen.serving.api.errors import error_body
from xscreen.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready to screen: model loaded and warmed up, database reachable, room on disk", responses={503: {"description": "Not ready"}})
async def readyz(request: Request) -> JSONResponse:
    service = getattr(request.app.state, "service", None)
    if service is None:
        return JSONResponse(error_body("not_ready", "starting or stopping"), status_code=503)
    ok, checks = await run_in_threadpool(service.ready)
    if not ok:
        failed = ", ".join(name for name, good in checks.items() if not good)
        return JSONResponse({**error_body("not_ready", f"not ready: {failed}"), "checks": checks}, status_code=503)
    return JSONResponse({"status": "ready", "checks": checks, "model": service.engine.ref, "variant": service.engine.variant,
                         "instances": service.batcher.instances, "policy": service.policy.version})


METRICS_BEARER = HTTPBearer(auto_error=False, description="The `metrics_token` setting.")


def check_metrics_token(settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> None:
    expected = settings.metrics_token
    if expected is None:
        raise MetricsUnauthorized("/metrics is closed: set the metrics_token setting and scrape with it as a bearer token")
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise MetricsUnauthorized("/metrics needs 'Authorization: Bearer <metrics_token>'")


@router.get(
    "/metrics",
    summary="Prometheus metrics (bearer token: the metrics_token setting)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"description": "Missing or wrong bearer token, or no metrics_token configured"}},
)
def metrics(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(METRICS_BEARER)]) -> Response:
    check_metrics_token(request.app.state.settings, credentials)
    service_metrics = request.app.state.metrics
    return Response(service_metrics.render(), media_type=service_metrics.content_type)
