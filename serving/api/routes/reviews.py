"""`/v1/scans/{id}/review(s)`: officers' verdicts, kept for audit and exported for retraining."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from xscreen.errors import InvalidRequest
from xscreen.serving.api.convert import review_out
from xscreen.serving.api.deps import ServiceDep, SessionDep, StationDep
from xscreen.serving.api.schemas import ReviewIn, ReviewOut
from xscreen.serving.store.scans import add_review, get_scan
from xscreen.vision.taxonomy import Taxonomy

router = APIRouter(prefix="/scans", tags=["reviews"])


def _class_id(taxonomy: Taxonomy, name: str) -> int:
    try:
        return taxonomy.id_of(name)
    except KeyError as exc:
        raise InvalidRequest(str(exc.args[0])) from exc


@router.post(
    "/{scan_id}/review",
    response_model=ReviewOut,
    status_code=201,
    summary="Record an officer's verdict on a scan",
    description="`threat_confirmed` with the confirmed classes (and optionally corrected boxes, which replace the "
    "model's boxes when reviews are exported as training data) or `false_alarm`. Every review is kept; the "
    "latest counts.",
    responses={404: {"description": "Unknown scan"}},
)
def create_review(scan_id: str, review: ReviewIn, response: Response, service: ServiceDep, session: SessionDep, key: StationDep) -> ReviewOut:
    taxonomy = service.taxonomy
    scan = get_scan(session=session, scan_id=scan_id, station=key.station)
    boxes: list[dict[str, Any]] | None = None
    if review.boxes is not None:
        boxes = []
        for b in review.boxes:
            x0, y0, x1, y1 = b.box
            if x0 < 0 or y0 < 0 or x1 > scan.width or y1 > scan.height:
                raise InvalidRequest(f"box {b.box} lies outside the {scan.width}x{scan.height} scan")
            boxes.append({"class_id": _class_id(taxonomy, b.class_name), "box": [float(v) for v in b.box]})
    class_ids = sorted({_class_id(taxonomy, name) for name in review.classes} | {b["class_id"] for b in boxes or []})
    stored = add_review(
        session=session, scan_id=scan_id, station=key.station, outcome=review.outcome, class_ids=class_ids,
        boxes=boxes, officer=review.officer, note=review.note,
    )
    response.headers["Location"] = f"/v1/scans/{scan_id}/reviews"
    return review_out(stored, taxonomy)


@router.get("/{scan_id}/reviews", response_model=list[ReviewOut], summary="Every review of a scan, oldest first")
def list_reviews(scan_id: str, service: ServiceDep, session: SessionDep, key: StationDep) -> list[ReviewOut]:
    scan = get_scan(session=session, scan_id=scan_id, station=key.station)
    return [review_out(r, service.taxonomy) for r in scan.reviews]
