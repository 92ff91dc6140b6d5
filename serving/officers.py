"""Officers: the people who review scans at the workstation (`/review`), and their browser sessions.

Roles: a *station* is an API key (`serving.auth`): it submits its scans and reads its own. An *officer*
signs in with a name and password: the queue, every station's scans, reviews. An *admin* is an officer who
also manages keys and officers. Accounts are made from the command line (`xscreen officers create`), which
prints a generated password once; the database keeps only its Argon2id hash (argon2-cffi's defaults: a
guessable human secret needs a slow hash, unlike the 256-bit station keys).

A session is a random cookie whose sha256 is stored with an expiry and a CSRF token. The cookie is HttpOnly
and SameSite=Strict; every change made through it must also carry the token in `X-CSRF-Token` (the page
reads it from `GET /v1/session`), so another site cannot make a signed-in browser post a review.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from xscreen.errors import AuthError, InvalidRequest
from xscreen.serving.store.records import OfficerRecord, OfficerSessionRecord, utcnow

Role = Literal["officer", "admin"]
ROLES: tuple[Role, ...] = ("officer", "admin")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
SESSION_COOKIE = "xscreen_session"
CSRF_HEADER = "X-CSRF-Token"

_hasher = PasswordHasher()
# Verified when the name is unknown, so a wrong name costs the same time as a wrong password (names stay private).
_DUMMY_HASH = _hasher.hash("xscreen: no such officer")


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_officer_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise InvalidRequest(f"officer name {name!r} must be 1-128 letters, digits or . _ @ - (starting with a letter or digit)")
    return name


def new_password() -> str:
    """A generated password: 16 url-safe characters (96 bits), shown once."""
    return secrets.token_urlsafe(12)


def find_officer(*, session: Session, name: str) -> OfficerRecord | None:
    return session.scalars(select(OfficerRecord).where(OfficerRecord.name == name)).first()


def create_officer(*, session: Session, name: str, role: str = "officer") -> tuple[str, OfficerRecord]:
    """A new officer with a generated password; returns (password, record). The password is never stored."""
    check_officer_name(name)
    if role not in ROLES:
        raise InvalidRequest(f"role {role!r} must be one of {', '.join(ROLES)}")
    if find_officer(session=session, name=name) is not None:
        raise InvalidRequest(f"an officer named {name!r} exists already (reset-password gives a new password)")
    password = new_password()
    record = OfficerRecord(name=name, role=role, password_hash=_hasher.hash(password), created_at=utcnow())
    session.add(record)
    session.commit()
    return password, record


def list_officers(*, session: Session) -> list[OfficerRecord]:
    return list(session.scalars(select(OfficerRecord).order_by(OfficerRecord.name)).all())


def _end_sessions(session: Session, officer_id: int, now: datetime) -> None:
    session.execute(
        update(OfficerSessionRecord)
        .where(OfficerSessionRecord.officer_id == officer_id, OfficerSessionRecord.ended_at.is_(None))
        .values(ended_at=now)
    )


def _existing(session: Session, name: str) -> OfficerRecord:
    record = find_officer(session=session, name=name)
    if record is None:
        raise InvalidRequest(f"no officer named {name!r} (xscreen officers list)")
    return record


def disable_officer(*, session: Session, name: str) -> OfficerRecord:
    """Disable an officer and end their sessions at once; their reviews stay attributed to them."""
    record = _existing(session, name)
    now = utcnow()
    if record.disabled_at is None:
        record.disabled_at = now
    _end_sessions(session, record.id, now)
    session.commit()
    return record


def reset_password(*, session: Session, name: str) -> tuple[str, OfficerRecord]:
    """A new generated password for `name` (enabled again if disabled); ends the officer's sessions."""
    record = _existing(session, name)
    password = new_password()
    record.password_hash = _hasher.hash(password)
    record.disabled_at = None
    _end_sessions(session, record.id, utcnow())
    session.commit()
    return password, record


def verify_password(*, session: Session, name: str, password: str) -> OfficerRecord:
    """The officer whose name and password these are, or AuthError (401) in the same words for any failure."""
    record = find_officer(session=session, name=name)
    try:
        _hasher.verify(record.password_hash if record is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        record = None
    if record is None or record.disabled_at is not None:
        raise AuthError("unknown officer name or wrong password")
    if _hasher.check_needs_rehash(record.password_hash):  # argon2's parameters were raised since it was hashed
        record.password_hash = _hasher.hash(password)
        session.commit()
    return record


def open_session(*, session: Session, officer: OfficerRecord, hours: float) -> tuple[str, OfficerSessionRecord]:
    """A new browser session for `officer`; returns (cookie value, record with its CSRF token)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    record = OfficerSessionRecord(
        token_hash=_sha256(token), csrf_token=secrets.token_urlsafe(32), officer_id=officer.id, created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(record)
    session.commit()
    return token, record


def session_for(*, session: Session, token: str | None) -> OfficerSessionRecord:
    """The live session the cookie names, or AuthError (401): missing, unknown, signed out, expired, or disabled."""
    if not token:
        raise AuthError("not signed in: sign in at /review (stations send their X-API-Key)")
    record = session.scalars(select(OfficerSessionRecord).where(OfficerSessionRecord.token_hash == _sha256(token))).first()
    if record is None or record.ended_at is not None or record.expires_at <= utcnow() or record.officer.disabled_at is not None:
        raise AuthError("the session has ended or expired: sign in again")
    return record


def csrf_matches(record: OfficerSessionRecord, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(record.csrf_token.encode(), sent.encode())


def end_session(*, session: Session, record: OfficerSessionRecord) -> None:
    record.ended_at = utcnow()
    session.commit()
