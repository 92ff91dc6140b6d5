"""`/v1/scans/{id}/review(s)`: officers' verdicts, kept for audit and exported for retraining. Only a
signed-in officer reviews (a station key is 403); the review records which officer made it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from xscreen.errors import InvalidRequest
from xscreen.serving.api.convert import class_id_of, review_out
from xscreen.serving.api.deps import CallerDep, OfficerDep, ServiceDep, SessionDep
from xscreen.serving.api.schemas import ReviewIn, ReviewOut
from xscreen.serving.store.scans import add_review, get_scan

router = APIRouter(prefix="/scans", tags=["reviews"])


@router.post(
    "/{scan_id}/review",
    response_model=ReviewOut,
    status_code=201,
    summary="Record an officer's verdict on a scan",
    description="`threat_confirmed` with the confirmed classes (and optionally corrected boxes, which replace the "
    "model's boxes when reviews are exported as training data) or `false_alarm`. Every review is kept; the "
    "latest counts. Needs a signed-in officer's session and its CSRF token (`X-CSRF-Token`); station keys get 403.",
    responses={404: {"description": "Unknown scan"}},
)
def create_review(scan_id: str, review: ReviewIn, response: Response, service: ServiceDep, session: SessionDep, officer: OfficerDep) -> ReviewOut:
    taxonomy = service.taxonomy
    scan = get_scan(session=session, scan_id=scan_id)  # officers review every station's scans
    boxes: list[dict[str, Any]] | None = None
    if review.boxes is not None:
        boxes = []
        for b in review.boxes:
            x0, y0, x1, y1 = b.box
            if x0 < 0 or y0 < 0 or x1 > scan.width or y1 > scan.height:
                raise InvalidRequest(f"box {b.box} lies outside the {scan.width}x{scan.height} scan")
            boxes.append({"class_id": class_id_of(taxonomy, b.class_name), "box": [float(v) for v in b.box]})
    class_ids = sorted({class_id_of(taxonomy, name) for name in review.classes} | {b["class_id"] for b in boxes or []})
    stored = add_review(
        session=session, scan_id=scan_id, officer_id=officer.id, officer=officer.name, outcome=review.outcome, class_ids=class_ids,
        boxes=boxes, note=review.note,
    )
    response.headers["Location"] = f"/v1/scans/{scan_id}/reviews"
    return review_out(stored, taxonomy)


@router.get("/{scan_id}/reviews", response_model=list[ReviewOut], summary="Every review of a scan, oldest first", responses={404: {"description": "Unknown scan"}})
def list_reviews(scan_id: str, service: ServiceDep, session: SessionDep, caller: CallerDep) -> list[ReviewOut]:
    scan = get_scan(session=session, scan_id=scan_id, station=caller.scope)
    return [review_out(r, service.taxonomy) for r in scan.reviews]
