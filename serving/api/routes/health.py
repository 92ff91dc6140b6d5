"""Probes and metrics, outside /v1 and without keys: `/healthz` (alive), `/readyz` (model warmed up,
batcher running, database reachable, `min_free_disk_bytes` free where scans are stored), `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from xscreen.serving.api.errors import error_body

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
    return JSONResponse({"status": "ready", "checks": checks, "model": service.engine.ref, "variant": service.engine.variant, "policy": service.policy.version})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    service_metrics = request.app.state.metrics
    return Response(service_metrics.render(), media_type=service_metrics.content_type)
