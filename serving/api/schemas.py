"""Wire types of the station API, kept apart from the tables (`serving.store.records`): the station
contract must not move when a column does."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xscreen.vision.policy import Verdict
from xscreen.vision.taxonomy import Category

# clear: the officer looked and releases the parcel where the model boxed nothing (an image rule sent it, or
# it was boxed elsewhere); false_alarm: what the model boxed is no threat. Both are negatives in exports.
Outcome = Literal["threat_confirmed", "false_alarm", "clear"]
MAX_PIXEL_PITCH_MM = 10.0  # baggage and parcel detectors are 0.4-2 mm; above 10 mm is a unit mistake (cm, um)
FIELD_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"  # no "/": scan ids appear in URL paths


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class ScanMetadata(BaseModel):
    """Form fields (or query parameters with a raw body) sent with a scan."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    scan_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=FIELD_PATTERN,
                                description="Idempotency key: re-sending it returns the stored result. Generated when absent.")
    station_id: str | None = Field(default=None, max_length=128, description="Must match the API key's station when given.")
    item_ref: str | None = Field(default=None, max_length=256, description="Parcel or mail item id.")
    declared_contents: str | None = Field(default=None, max_length=4000, description="What the parcel declares it holds (free text); "
                                          "the policy's declaration rules compare it with what the scan shows.")
    hs_code: str | None = Field(default=None, max_length=16, pattern=r"^[0-9]{2}[0-9.]*$",
                                description="Harmonized System code of the declared contents, e.g. 4901.99; its first two digits are the chapter.")
    declared_value: float | None = Field(default=None, ge=0, le=1e12, allow_inf_nan=False,
                                         description="Declared value, in the currency the mail system declares in (the policy's value rule uses the same).")
    origin: str | None = Field(default=None, max_length=128, description="Origin country (ISO 3166 code, as the policy's origin list names it).")
    view: str | None = Field(default=None, max_length=64, description="Scanner view, e.g. top or side.")
    pixel_pitch_mm: float | None = Field(default=None, gt=0, le=MAX_PIXEL_PITCH_MM, allow_inf_nan=False,
                                         description="The station detector's pixel pitch in mm; the scan is resampled to the model's scale. "
                                         "Overrides a pitch the file states (DICOM PixelSpacing, NPZ pixel_pitch_mm).")

    # Before the whitespace strip: a scan_id is an idempotency key compared byte for byte, so "A1\n" silently
    # becoming "A1" could replay another scan; and control characters in a parcel reference reach audit
    # exports and officers' screens verbatim.
    @field_validator("scan_id", mode="before")
    @classmethod
    def _unpadded(cls, value: object) -> object:
        if isinstance(value, str) and value != value.strip():
            raise ValueError("must not start or end with whitespace or a newline")
        return value

    @field_validator("station_id", "item_ref", "origin", "view", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        if isinstance(value, str) and any(unicodedata.category(ch) == "Cc" for ch in value):
            raise ValueError("must not contain control characters (newlines, tabs, NUL, escapes)")
        return value


class DetectionOut(BaseModel):
    class_id: int
    class_name: str
    category: str
    score: float
    box: list[float] = Field(description="x0, y0, x1, y1 in original-image pixels")


class ReasonOut(BaseModel):
    rule: str = Field(default="detection", description="`detection` (a box passed a threshold), an image rule: "
                      "too_small, blank, saturated, opaque_area (the scan could not be screened; an officer looks), or a declaration "
                      "rule: declaration_mismatch, origin_risk, declared_value (docs/service.md).")
    detection: int | None = Field(description="Index into detections; null for an image rule.")
    class_name: str | None
    category: str | None
    score: float = Field(description="The detection's score, or the value an image rule measured.")
    threshold: float
    verdict: Verdict
    detail: str | None = Field(default=None, description="What a declaration rule compared, in one sentence; null for the other rules.")


class DecisionOut(BaseModel):
    verdict: Verdict
    reasons: list[ReasonOut]
    policy_version: str


class ModelRef(BaseModel):
    name: str
    version: int


class ImageOut(BaseModel):
    sha256: str
    media_type: str
    bytes: int
    width: int
    height: int
    kind: str
    pixel_pitch_mm: float | None = Field(default=None, description="The pitch the station declared with the scan; null when it declared none.")


class BoxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    class_name: str
    box: list[float] = Field(min_length=4, max_length=4, description="x0, y0, x1, y1 in original-image pixels")

    @field_validator("box")
    @classmethod
    def _ordered(cls, box: list[float]) -> list[float]:
        x0, y0, x1, y1 = box
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"box must have x1 > x0 and y1 > y0, got {box}")
        return box


class ReviewIn(BaseModel):
    """An officer's verdict: a threat confirmed (its classes, optionally corrected boxes) or a false alarm."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    outcome: Outcome
    classes: list[str] = Field(default_factory=list, description="Confirmed classes (taxonomy names).")
    boxes: list[BoxIn] | None = Field(default=None, max_length=1000, description="Corrected boxes; replaces the model's boxes in exports.")
    note: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _consistent(self) -> "ReviewIn":
        if self.outcome != "threat_confirmed" and (self.classes or self.boxes):
            raise ValueError(f"a {self.outcome.replace('_', ' ')} has no confirmed classes or boxes")
        if self.outcome == "threat_confirmed" and not self.classes and not self.boxes:
            raise ValueError("a confirmed threat needs its classes (or corrected boxes)")
        return self


class ReviewOut(BaseModel):
    id: int
    scan_id: str
    station: str | None = Field(description="The station key that posted it (reviews from before officers signed in); null for an officer's.")
    officer: str | None = Field(description="The signed-in officer who made it.")
    outcome: Outcome
    classes: list[str]
    boxes: list[BoxIn] | None
    note: str | None
    created_at: datetime


class ScanOut(BaseModel):
    scan_id: str
    station: str
    item_ref: str | None
    declared_contents: str | None
    hs_code: str | None
    declared_value: float | None
    origin: str | None
    view: str | None
    received_at: datetime
    image: ImageOut
    detections: list[DetectionOut]
    decision: DecisionOut
    model: ModelRef
    timings_ms: dict[str, float] = Field(
        description="Milliseconds when first screened: receive (body, replay lookup), decode, queue (wait for a batch), inference (the whole batch), "
        "screen (receipt to decision); the first answer adds store and total."
    )
    reviews: list[ReviewOut] = Field(default_factory=list)


def utc_time(value: datetime | None) -> datetime | None:
    """A query's time in UTC: a time without zone is read as UTC; one that overflows once converted is refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("the time lies outside years 1 to 9999 once converted to UTC") from None


MAX_OFFSET = 1_000_000_000  # far beyond any audit store; an offset past int64 crashed SQLite (a 500)


class PagedQuery(BaseModel):
    """What every listing's query parameters share: unknown ones are refused (422), as POST refuses unknown
    fields (a misspelt filter, `?verdcit=hold`, silently listed everything); a page; since/until in UTC."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

    @field_validator("since", "until", check_fields=False)
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return utc_time(value)


class ScanQuery(PagedQuery):
    """`GET /v1/scans` query parameters."""

    verdict: Verdict | None = None
    class_name: str | None = Field(default=None, description="Only scans with a detection of this class.")
    station: str | None = Field(default=None, description="A station key lists only its own station's scans; another name gives none.")
    item_ref: str | None = Field(default=None, max_length=256, description="Only scans of this parcel or mail item (exact match).")
    reviewed: bool | None = Field(default=None, description="true: only scans an officer reviewed; false: only those not yet reviewed.")
    since: datetime | None = Field(default=None, description="Received at or after (ISO 8601; UTC when no zone).")
    until: datetime | None = Field(default=None, description="Received before.")


class ScanPage(BaseModel):
    items: list[ScanOut]
    total: int
    limit: int
    offset: int


class ModelOut(BaseModel):
    name: str
    version: int
    ref: str
    classes: list[str]
    imgsz: int
    variants: list[str]
    default: bool
    serving: bool = Field(description="The model this instance screens with.")
    metrics: dict


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    officer: str
    role: str
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every change made through this session.")
    expires_at: datetime


class OfficerOut(BaseModel):
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None


CaseState = Literal["open", "assigned", "seized", "released"]
CaseEvent = Literal["case.opened", "case.scan_attached", "case.state_changed"]


class ScanLinks(BaseModel):
    scan: str = Field(description="The scan's record (`GET /v1/scans/{id}`: officers, or the station that sent it).")
    image: str
    annotated: str


class CaseScanOut(BaseModel):
    scan_id: str
    station: str
    received_at: datetime
    attached_at: datetime
    detections: list[DetectionOut]
    decision: DecisionOut
    links: ScanLinks


class CaseEventOut(BaseModel):
    event: CaseEvent
    state: CaseState = Field(description="The case's state after the event.")
    actor: str = Field(description="`station:NAME` for a hold, `officer:NAME` for the officer who changed the state.")
    scan_id: str | None
    note: str | None
    at: datetime


class CaseOut(BaseModel):
    case_id: str
    state: CaseState
    item_ref: str | None
    station: str = Field(description="The station whose scan opened the case.")
    declared_contents: str | None = Field(description="As declared with the case's first scan (so are hs_code, declared_value, origin).")
    hs_code: str | None
    declared_value: float | None
    origin: str | None
    categories: list[str] = Field(description="Taxonomy categories its scans were held for.")
    assignee: str | None
    opened_at: datetime
    updated_at: datetime
    scan_ids: list[str]
    scans: list[CaseScanOut]
    history: list[CaseEventOut]
    link: str


class CasePage(BaseModel):
    items: list[CaseOut]
    total: int
    limit: int
    offset: int


class CaseQuery(PagedQuery):
    """`GET /v1/cases` query parameters."""

    state: CaseState | None = None
    category: Category | None = Field(default=None, description="Only cases held for this taxonomy category.")
    item_ref: str | None = Field(default=None, max_length=256, description="Only this parcel's cases (exact match).")
    since: datetime | None = Field(default=None, description="Opened at or after (ISO 8601; UTC when no zone).")
    until: datetime | None = Field(default=None, description="Opened before.")


class CaseChangeIn(BaseModel):
    """A state change: open -> assigned (with the assignee), assigned -> assigned (re-assign), seized or released."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    state: Literal["assigned", "seized", "released"]
    assignee: str | None = Field(default=None, min_length=1, max_length=128, description="Who investigates (an officer's name or a unit); required to assign.")
    note: str | None = Field(default=None, max_length=4000)


DeliveryStatus = Literal["pending", "delivered", "dead"]


class DeliveryOut(BaseModel):
    id: int
    delivery_id: str = Field(description="The X-Xscreen-Delivery id, the same on every attempt.")
    receiver: str
    event: CaseEvent
    case_id: str | None
    status: DeliveryStatus = Field(description="pending (being retried), delivered, or dead (a dead letter: attempts used up).")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When the next attempt is due; null once delivered or dead.")
    delivered_at: datetime | None
    last_error: str | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


class DeliveryQuery(PagedQuery):
    status: DeliveryStatus | None = None
    case_id: str | None = Field(default=None, max_length=32)
    receiver: str | None = Field(default=None, max_length=64)
