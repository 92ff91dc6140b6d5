"""`/v1/scans`: screen a scan, read results, images and annotated images."""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from xscreen.errors import InvalidRequest, QueueFull, ScanTooLarge, ScanUnprocessable, UnsupportedMedia, XscreenError, validation_summary
from xscreen.serving.api.convert import class_id_of, scan_out
from xscreen.serving.api.deps import AdmittedDep, CallerDep, ServiceDep, SessionDep, StationDep
from xscreen.serving.api.schemas import ScanMetadata, ScanOut, ScanPage, ScanQuery
from xscreen.serving.api.service import Inference, Service
from xscreen.serving.store.images import sha256_bytes
from xscreen.serving.store.records import ScanRecord, utcnow
from xscreen.serving.store.scans import REPLAY_FIELDS, ScanFilter, check_replay, detection_rows, find_scan, get_scan, list_scans, save_scan
from xscreen.vision.declaration import Declaration
from xscreen.vision.io import read_scan

router = APIRouter(prefix="/scans", tags=["scans"])

MEDIA_TYPES = {
    "jpeg": "image/jpeg", "png": "image/png", "bmp": "image/bmp", "webp": "image/webp",
    "tiff": "image/tiff", "npz": "application/x-npz", "dicom": "application/dicom",
}
# Bodies that cannot be an image: refused before reading, with a hint (curl -d sends form-urlencoded).
REFUSED_PREFIXES = ("application/x-www-form-urlencoded", "application/json", "text/")
MAX_FIELD_BYTES = 64 * 1024

_metadata_schema = ScanMetadata.model_json_schema()["properties"]
_binary = {"type": "string", "format": "binary"}
POST_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The scan as multipart field `file` with metadata form fields, or the raw image bytes as the "
        "body with metadata as query parameters. Formats are recognised from the bytes: JPEG, PNG, BMP, WebP, "
        "TIFF (8/16-bit, dual-energy), NPZ, DICOM.",
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {"file": _binary, **_metadata_schema}}},
            "application/octet-stream": {"schema": _binary},
            "image/*": {"schema": _binary},
        },
    }
}


async def read_upload(request: Request, max_bytes: int) -> tuple[bytes, str | None, ScanMetadata]:
    """The image bytes, its file name (multipart) and validated metadata, from either body shape."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in fields:
            raise InvalidRequest(f"metadata field {name!r} given twice")
        fields[name] = value
    filename: str | None = None
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=16, max_part_size=MAX_FIELD_BYTES)
        try:
            upload: UploadFile | None = None
            for name, part in form.multi_items():
                if name == "file":
                    if upload is not None or not isinstance(part, UploadFile):
                        raise InvalidRequest("field 'file' must be one uploaded file (the scan)")
                    upload = part
                elif isinstance(part, UploadFile):
                    raise InvalidRequest(f"unexpected file field {name!r}: send the scan as field 'file'")
                elif name in fields:
                    raise InvalidRequest(f"metadata field {name!r} given twice")
                else:
                    fields[name] = part
            if upload is None:
                raise InvalidRequest("multipart body has no field 'file' holding the scan")
            if upload.size is not None and upload.size > max_bytes:
                raise ScanTooLarge(f"the scan is {upload.size} bytes; the limit is {max_bytes}")
            data = await upload.read()
            filename = upload.filename
        finally:
            await form.close()
    elif content_type.startswith(REFUSED_PREFIXES):
        raise UnsupportedMedia(
            f"a {content_type} body is not a scan: send the image as multipart field 'file' or as the raw body "
            "(e.g. Content-Type: application/octet-stream)"
        )
    else:
        data = await request.body()
    if len(data) > max_bytes:
        raise ScanTooLarge(f"the scan is {len(data)} bytes; the limit is {max_bytes}")
    try:
        metadata = ScanMetadata.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequest(f"invalid scan metadata: {validation_summary(exc.errors())}") from exc
    return data, filename, metadata


def declaration_of(meta: ScanMetadata) -> Declaration | None:
    """What the policy's declaration rules read, or None when the station declared nothing."""
    if meta.declared_contents is None and meta.hs_code is None and meta.declared_value is None and meta.origin is None:
        return None
    return Declaration(contents=meta.declared_contents, hs_code=meta.hs_code, value=meta.declared_value, origin=meta.origin)


def _find_replay(service: Service, scan_id: str, meta: ScanMetadata, station: str, digest: str) -> ScanOut | None:
    with service.sessions() as session:
        existing = find_scan(session=session, scan_id=scan_id)
        if existing is None:
            return None
        metadata = {name: getattr(meta, name) for name in REPLAY_FIELDS}
        return scan_out(check_replay(existing, station=station, image_sha256=digest, metadata=metadata), service.taxonomy)


def _store(service: Service, data: bytes, record: ScanRecord, case_categories: list[str]) -> tuple[ScanOut, bool]:
    """Image first (content-addressed, so a lost race stores nothing twice), then the record, committed with
    the case a hold opens (or joins) and its outbox rows when `case_categories` is not empty."""
    service.images.put(data, record.image_sha256)
    events: list[str] = []

    def open_case(session: Session, stored: ScanRecord) -> None:
        events[:] = [service.open_case(session, stored, case_categories)]  # a retried commit replaces, not adds

    with service.sessions() as session:
        stored, created = save_scan(session=session, record=record, within=open_case if case_categories else None)
        out = scan_out(stored, service.taxonomy)
    if created:
        service.committed(events)
    return out, created


def _replayed(response: Response, out: ScanOut, service: Service) -> ScanOut:
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
    service.metrics.scan_replays.inc()
    return out


@router.post(
    "",
    response_model=ScanOut,
    status_code=201,
    summary="Screen one scan",
    description="Decodes the scan, runs the model (micro-batched with concurrent scans), applies the decision "
    "policy and stores image and record before answering 201. Re-sending a `scan_id` from the same station "
    "with the same image and metadata answers 200 with the stored result (header `Idempotent-Replayed: true`) and "
    "creates nothing; the same `scan_id` with another image, station or metadata (item_ref, declared_contents, hs_code, "
    "declared_value, origin, view, pixel_pitch_mm) is a 409.",
    responses={200: {"model": ScanOut, "description": "Idempotent replay: this station already sent this scan_id with this image and metadata; "
                     "the stored result, header `Idempotent-Replayed: true`"},
               409: {"description": "scan_id reused for another image, station or metadata"}, 413: {"description": "Body or image too large"}, 415: {"description": "Not an image format the engine decodes"}},
    openapi_extra=POST_BODY_DOC,
)
async def create_scan(request: Request, response: Response, ticket: AdmittedDep, service: ServiceDep, key: StationDep) -> ScanOut:
    started = time.perf_counter()
    received_at = utcnow()
    settings = service.settings
    data, filename, meta = await read_upload(request, settings.max_upload_bytes)
    if not ticket.held:  # no Content-Length to reserve at admission (a chunked body): its bytes count now
        ticket.reserve(len(data))
    station = key.station
    if meta.station_id is not None and meta.station_id != station:
        raise InvalidRequest(f"station_id {meta.station_id!r} does not match the API key's station {station!r}")
    digest = sha256_bytes(data)
    if meta.scan_id is not None:
        replay = await run_in_threadpool(_find_replay, service, meta.scan_id, meta, station, digest)
        if replay is not None:
            return _replayed(response, replay, service)

    received = time.perf_counter()
    scan = await run_in_threadpool(
        read_scan, data, filename=filename, max_pixels=settings.max_image_pixels, max_bytes=settings.max_scan_decoded_bytes, reserve=ticket.reserve
    )
    if meta.pixel_pitch_mm is not None:  # per scan, not per batch: batch-mates come from other stations
        scan = dataclasses.replace(scan, pixel_pitch_mm=meta.pixel_pitch_mm)
    scan = dataclasses.replace(scan, declaration=declaration_of(meta))
    decoded = time.perf_counter()
    inference: Inference = await service.batcher.submit(scan)
    screening = inference.screening
    if screening.error is not None or screening.decision is None:
        raise ScanUnprocessable(f"the model could not process this scan ({type(screening.error).__name__}: {screening.error})")
    decision, detections = screening.decision, screening.detections
    record = ScanRecord(
        id=meta.scan_id or uuid.uuid4().hex,
        station=station,
        item_ref=meta.item_ref,
        declared_contents=meta.declared_contents,
        hs_code=meta.hs_code,
        declared_value=meta.declared_value,
        origin=meta.origin,
        view=meta.view,
        received_at=received_at,
        image_sha256=digest,
        media_type=MEDIA_TYPES.get(scan.format, "application/octet-stream"),
        image_bytes=len(data),
        width=scan.width,
        height=scan.height,
        image_kind=scan.kind,
        pixel_pitch_mm=meta.pixel_pitch_mm,
        model_name=service.engine.name,
        model_version=int(service.engine.version),
        policy_version=decision.policy_version,
        verdict=decision.verdict,
        reasons=[r.to_dict() for r in decision.reasons],
        timings={
            "receive": _ms(received - started),  # body upload and the replay lookup
            "decode": _ms(decoded - received),
            "queue": _ms(max(0.0, inference.batch_started - decoded)),
            "inference": _ms(inference.batch_seconds),
            "screen": _ms(time.perf_counter() - started),
        },
        detections=detection_rows(detections),
    )
    store_started = time.perf_counter()
    out, created = await run_in_threadpool(_store, service, data, record, service.policy.case_categories_of(decision))
    if not created:  # a concurrent request with the same scan_id stored first: answer with its record
        return _replayed(response, out, service)
    # The record keeps the timings known before storing; the first response adds storing and the total.
    out.timings_ms = {**out.timings_ms, "store": _ms(time.perf_counter() - store_started), "total": _ms(time.perf_counter() - started)}
    service.metrics.scans_stored.inc()
    service.metrics.observe_decision(decision.verdict, detections, service.taxonomy)
    response.headers["Location"] = f"/v1/scans/{out.scan_id}"
    return out


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


@router.get("", response_model=ScanPage, summary="List scans, newest first: a station's own, or every station's for an officer")
def list_scans_route(service: ServiceDep, session: SessionDep, caller: CallerDep, q: Annotated[ScanQuery, Query()]) -> ScanPage:
    class_id = class_id_of(service.taxonomy, q.class_name) if q.class_name is not None else None
    if caller.scope is not None and q.station is not None and q.station != caller.scope:
        return ScanPage(items=[], total=0, limit=q.limit, offset=q.offset)  # a station sees only its own scans
    where = ScanFilter(verdict=q.verdict, class_id=class_id, station=caller.scope or q.station, since=q.since, until=q.until,
                       item_ref=q.item_ref, reviewed=q.reviewed)
    records, total = list_scans(session=session, where=where, limit=q.limit, offset=q.offset)
    return ScanPage(items=[scan_out(r, service.taxonomy) for r in records], total=total, limit=q.limit, offset=q.offset)


@router.get("/{scan_id}", response_model=ScanOut, summary="One scan's result", responses={404: {"description": "Unknown scan"}})
def get_scan_route(scan_id: str, service: ServiceDep, session: SessionDep, caller: CallerDep) -> ScanOut:
    return scan_out(get_scan(session=session, scan_id=scan_id, station=caller.scope), service.taxonomy)


@router.get(
    "/{scan_id}/image",
    summary="The scan exactly as the station sent it",
    response_class=Response,
    responses={200: {"content": {"image/*": {}, "application/octet-stream": {}}}, 404: {"description": "Unknown scan"}},
)
def get_image(scan_id: str, service: ServiceDep, session: SessionDep, caller: CallerDep) -> Response:
    record = get_scan(session=session, scan_id=scan_id, station=caller.scope)
    return Response(service.images.get(record.image_sha256), media_type=record.media_type, headers={"ETag": f'"{record.image_sha256}"'})


@router.get(
    "/{scan_id}/annotated",
    summary="PNG of the scan as an operator sees it, with boxes and labels drawn",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 404: {"description": "Unknown scan"}},
)
def get_annotated(scan_id: str, service: ServiceDep, session: SessionDep, caller: CallerDep) -> Response:
    from xscreen.serving.store.scans import record_detections
    from xscreen.vision.draw import annotated_png

    record = get_scan(session=session, scan_id=scan_id, station=caller.scope)
    data = service.images.get(record.image_sha256)
    ticket = service.admission.ticket()  # its decoded pixels count in the same budget as the scans in flight
    try:
        scan = read_scan(data, max_pixels=service.settings.max_image_pixels, max_bytes=service.settings.max_scan_decoded_bytes, reserve=ticket.reserve)
        png = annotated_png(scan.display_rgb(), record_detections(record), taxonomy=service.taxonomy)
    except QueueFull:
        raise
    except XscreenError as exc:  # stored under older limits or decoder: not the caller's fault, not a 500 either
        raise ScanUnprocessable(f"the stored image of scan {scan_id!r} can no longer be decoded: {exc.message}") from exc
    finally:
        ticket.release()
    return Response(png, media_type="image/png")
