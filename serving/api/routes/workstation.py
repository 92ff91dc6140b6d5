"""The officers' workstation: the page at `/review` (static files shipped in `xscreen.serving.web`, no CDN)
and the image views it draws (`/v1/scans/{id}/views`, `/v1/scans/{id}/view`; `serving.viewer`)."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from xscreen.errors import Forbidden, InvalidRequest, ScanUnprocessable, XscreenError
from xscreen.serving.api.deps import API_KEY_HEADER, CallerDep, ServiceDep, SessionDep
from xscreen.serving.store.scans import get_scan
from xscreen.serving.viewer import MAX_SIDE, View, available_views, cached_view, encode_jpeg
from xscreen.vision.io import read_scan
from xscreen.vision.scan import Scan

api = APIRouter(prefix="/scans", tags=["workstation"])
page = APIRouter(tags=["workstation"], include_in_schema=False)

ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}


class ViewsOut(BaseModel):
    scan_id: str
    width: int
    height: int
    kind: str
    views: list[View] = Field(description="The views this scan's kind allows, for GET .../view?view=")


@api.get("/{scan_id}/views", response_model=ViewsOut, summary="The image views a scan allows (workstation)", responses={404: {"description": "Unknown scan"}})
def scan_views(scan_id: str, session: SessionDep, caller: CallerDep) -> ViewsOut:
    record = get_scan(session=session, scan_id=scan_id, station=caller.scope)
    return ViewsOut(scan_id=record.id, width=record.width, height=record.height, kind=record.image_kind, views=list(available_views(record.image_kind)))


@api.get(
    "/{scan_id}/view",
    summary="JPEG of a region of the scan in one view, at most max_side pixels a side (workstation)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"description": "Unknown scan"}},
)
async def scan_view(
    scan_id: str, service: ServiceDep, session: SessionDep, caller: CallerDep,
    view: View = "display",
    x0: Annotated[int, Query(ge=0)] = 0, y0: Annotated[int, Query(ge=0)] = 0,
    x1: Annotated[int | None, Query(gt=0)] = None, y1: Annotated[int | None, Query(gt=0)] = None,
    max_side: Annotated[int, Query(ge=16, le=MAX_SIDE)] = 2048,
) -> Response:
    record = get_scan(session=session, scan_id=scan_id, station=caller.scope)
    region = (x0, y0, x1 or record.width, y1 or record.height)

    def render() -> bytes:
        def load() -> Scan:
            return read_scan(service.images.get(record.image_sha256), max_pixels=service.settings.max_image_pixels)

        try:
            return encode_jpeg(cached_view(service.scan_cache, record.image_sha256, load, view, region, max_side))
        except XscreenError as exc:  # stored under older limits or decoder (as /annotated says)
            raise ScanUnprocessable(f"the stored image of scan {scan_id!r} can no longer be decoded: {exc.message}") from exc
        except ValueError as exc:  # a view the kind lacks, a region outside the scan
            raise InvalidRequest(str(exc)) from exc

    data = await run_in_threadpool(render)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def _refuse_station_keys(request: Request) -> None:
    if request.headers.get(API_KEY_HEADER.model.name):
        raise Forbidden("the workstation is for signed-in officers; station keys only submit and read their own scans")


def _asset(name: str) -> bytes:
    return resources.files("xscreen.serving.web").joinpath(name).read_bytes()


@page.get("/review")
def review_page(request: Request) -> Response:
    _refuse_station_keys(request)
    # The page holds no data: it signs in and reads everything through /v1 with the session's CSRF token.
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'", "X-Frame-Options": "DENY"})


@page.get("/review/{name}")
def review_asset(name: str, request: Request) -> Response:
    _refuse_station_keys(request)
    if name not in ASSETS:
        raise HTTPException(404, f"no workstation file {name!r}")
    return Response(_asset(name), media_type=ASSETS[name])
