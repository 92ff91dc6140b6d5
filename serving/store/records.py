"""SQLAlchemy tables of the audit store. The wire types live apart (`serving.api.schemas`), so the
station contract does not move when a column does. Class ids are stored in taxonomy order (ids are
append-only, see configs/taxonomy.yaml); names and categories are looked up at the edges."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out on every backend (SQLite keeps no zone; PostgreSQL does)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the audit store; use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ScanRecord(Base):
    """One screened scan: what the station sent, what the model saw, what the policy decided."""

    __tablename__ = "scans"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # the station's scan_id (idempotency key)
    station: Mapped[str] = mapped_column(String(128), index=True)
    item_ref: Mapped[str | None] = mapped_column(String(256), index=True)
    declared_contents: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(String(128))
    hs_code: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the declaration's HS code (digits, dots)
    declared_value: Mapped[float | None] = mapped_column(Float, nullable=True)  # in the mail system's currency
    view: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    image_sha256: Mapped[str] = mapped_column(String(64), index=True)
    media_type: Mapped[str] = mapped_column(String(128))
    image_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    image_kind: Mapped[str] = mapped_column(String(32))
    pixel_pitch_mm: Mapped[float | None] = mapped_column(Float, nullable=True)  # as the station declared it (null: not declared)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[int] = mapped_column(Integer)
    policy_version: Mapped[str] = mapped_column(String(128))
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    timings: Mapped[dict[str, float]] = mapped_column(JSON)

    detections: Mapped[list["DetectionRecord"]] = relationship(
        back_populates="scan", order_by="DetectionRecord.index", cascade="all, delete-orphan", lazy="selectin"
    )
    reviews: Mapped[list["ReviewRecord"]] = relationship(
        back_populates="scan", order_by="ReviewRecord.id", cascade="all, delete-orphan", lazy="selectin"
    )


class DetectionRecord(Base):
    """One box of a scan, a row of its own so scans can be filtered by class."""

    __tablename__ = "detections"

    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(Integer, index=True)
    score: Mapped[float] = mapped_column(Float)
    x0: Mapped[float] = mapped_column(Float)
    y0: Mapped[float] = mapped_column(Float)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)

    scan: Mapped[ScanRecord] = relationship(back_populates="detections")


class ReviewRecord(Base):
    """An officer's verdict on a scan; every review is kept, the latest one counts for export."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    station: Mapped[str | None] = mapped_column(String(128))  # whose key submitted it (reviews before officer sign-in); null for an officer's
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"), index=True)  # the signed-in officer who made it
    officer: Mapped[str | None] = mapped_column(String(128))  # the officer's name, kept beside the id so exports need no join
    outcome: Mapped[str] = mapped_column(String(32))  # threat_confirmed | false_alarm | clear
    class_ids: Mapped[list[int]] = mapped_column(JSON)
    boxes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # corrected boxes: [{class_id, box}]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    scan: Mapped[ScanRecord] = relationship(back_populates="reviews")


class ApiKeyRecord(Base):
    """A station's API key: only its sha256 is stored; `key_id` is the public part, for listing and revoking."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    station: Mapped[str] = mapped_column(String(128), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OfficerRecord(Base):
    """A person who signs in to the workstation: role `officer` (queue, review, audit) or `admin` (also keys and
    officers). Only an Argon2 hash of the password is stored; a disabled officer keeps the reviews made."""

    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OfficerSessionRecord(Base):
    """A signed-in browser: the cookie's sha256 (the cookie itself is never stored) and the CSRF token its
    page must echo on every change. Server-side, so disabling an officer or signing out ends it at once."""

    __tablename__ = "officer_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    officer: Mapped[OfficerRecord] = relationship(lazy="joined")


class CaseRecord(Base):
    """An investigation opened by a hold: one parcel (`item_ref`), one or more scans, a state with its history.

    `open_item_ref` is `item_ref` while the case is open or assigned and null once it is closed: its unique
    constraint is what keeps two concurrent holds of one parcel from opening two cases (NULLs never collide).
    """

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    item_ref: Mapped[str | None] = mapped_column(String(256), index=True)
    open_item_ref: Mapped[str | None] = mapped_column(String(256), unique=True, nullable=True)
    station: Mapped[str] = mapped_column(String(128))  # the station whose scan opened it
    state: Mapped[str] = mapped_column(String(16), index=True)  # open | assigned | seized | released
    categories: Mapped[list[str]] = mapped_column(JSON)  # taxonomy categories its scans were held for
    assignee: Mapped[str | None] = mapped_column(String(128), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    scans: Mapped[list["CaseScanRecord"]] = relationship(order_by="CaseScanRecord.attached_at", cascade="all, delete-orphan", lazy="selectin")
    events: Mapped[list["CaseEventRecord"]] = relationship(order_by="CaseEventRecord.id", cascade="all, delete-orphan", lazy="selectin")


class CaseScanRecord(Base):
    __tablename__ = "case_scans"

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True, unique=True)  # a scan is in one case
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime())

    scan: Mapped[ScanRecord] = relationship(lazy="selectin")


class CaseEventRecord(Base):
    """One step of a case's history: opened, a scan attached, or a state change, with who and when."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))  # case.opened | case.scan_attached | case.state_changed
    state: Mapped[str] = mapped_column(String(16))  # the case's state after the event
    actor: Mapped[str] = mapped_column(String(128))  # station:NAME for holds, officer:NAME for state changes
    scan_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxRecord(Base):
    """A webhook delivery owed to one receiver, written in the transaction that made the event (transactional
    outbox): it exists exactly when the event does, and the delivery worker sends it until it is delivered or dead.

    `delivery_id` is the event's stable id (the `X-Xscreen-Delivery` header), the same on every retry.
    `next_attempt_at` is also the worker's lease: claiming a row moves it past the send's timeout, so a row a
    crashed worker held comes due again by itself."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("delivery_id", "receiver"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(64), index=True)
    receiver: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
