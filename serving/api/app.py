"""`create_app(settings)`: the screening service. The lifespan opens the database (migrating it), reads
the policy, loads and warms up the model and starts the micro-batcher; on shutdown (after the server has
finished in-flight requests) it drains the batcher and closes the database. Nothing happens at import,
so a test can build one app per configuration."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from xscreen.serving.api.errors import BodySizeLimit, install_error_handlers
from xscreen.serving.api.routes import cases, deliveries, health, models, queue, reviews, scans, session, workstation
from xscreen.serving.api.schemas import ErrorBody
from xscreen.serving.api.service import open_service, warm_up
from xscreen.serving.metrics import RequestMetricsMiddleware, ServiceMetrics
from xscreen.settings import BODY_SLACK_BYTES, Settings, get_settings

logger = logging.getLogger(__name__)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "A body that cannot be parsed (malformed multipart or JSON)",
        401: "Missing or unknown API key, or no officer session",
        403: "Revoked API key, a role that may not do this, or a missing CSRF token",
        422: "Invalid request, or an empty or undecodable image",
        429: "Busy (scans or bytes in flight, or the engine queue, at their limits); retry after Retry-After seconds",
        503: "Starting, stopping, or database unreachable",
    }.items()
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = await run_in_threadpool(open_service, settings, metrics)
        try:
            await run_in_threadpool(warm_up, service)
            await service.batcher.start()
            await service.deliveries.start()  # resumes what the last process left in the outbox
            app.state.service = service
            yield
        finally:
            app.state.service = None
            await service.batcher.stop()  # finishes queued scans; the server already waited for their requests
            await service.deliveries.stop()
            service.db.dispose()
            logger.info("service stopped")

    # Swagger UI and ReDoc from the package's own copies, not a CDN: /docs was blank on an offline host.
    app = FastAPIOffline(
        title="xscreen screening service",
        version="1",
        summary="X-ray scans in; detections, a clearance decision (clear / inspect / hold) and an audit record out.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.service = None
    install_error_handlers(app)

    v1 = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
    v1.include_router(scans.router)
    v1.include_router(reviews.router)
    v1.include_router(models.router)
    v1.include_router(queue.router)
    v1.include_router(session.router)
    v1.include_router(cases.router)
    v1.include_router(deliveries.router)
    v1.include_router(workstation.api)
    app.include_router(v1)
    app.include_router(health.router)
    app.include_router(workstation.page)

    # Outermost last: metrics see every answer, including a 413 from the size limit.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes + BODY_SLACK_BYTES)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    return app
