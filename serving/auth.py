"""Station API keys. A key is shown once, when created; the database keeps only its sha256.

Keys live in the service's database (not a file): `keys create` and `serve` agree whenever they share
`XSCREEN_DATA_DIR` or `XSCREEN_DATABASE_URL`, several service instances on one PostgreSQL share them,
and a revocation takes effect on the next request. A key is `xsk_<key_id>_<secret>`: `key_id` is
public (listing, revoking, logs); the secret carries 256 random bits, so a plain sha256 is enough (a slow
password hash protects guessable secrets, which these are not).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from xscreen.errors import AuthError, InvalidRequest, KeyRevoked
from xscreen.serving.store.records import ApiKeyRecord, utcnow

KEY_PREFIX = "xsk_"
STATION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_station_name(station: str) -> str:
    if not STATION_PATTERN.match(station):
        raise InvalidRequest(f"station name {station!r} must be 1-128 letters, digits or . _ : - (starting with a letter or digit)")
    return station


def create_key(*, session: Session, station: str) -> tuple[str, ApiKeyRecord]:
    """Make a key for `station`; returns the plain key (shown once) and its stored record."""
    check_station_name(station)
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(key_id=key_id, station=station, key_hash=hash_key(key), created_at=utcnow())
    session.add(record)
    session.commit()
    return key, record


def authenticate(*, session: Session, key: str | None) -> ApiKeyRecord:
    """The key's record, or AuthError (missing or unknown: 401) / KeyRevoked (403)."""
    if not key:
        raise AuthError("missing API key: send the station's key in the X-API-Key header")
    record = session.scalars(select(ApiKeyRecord).where(ApiKeyRecord.key_hash == hash_key(key))).first()
    if record is None:
        raise AuthError("unknown API key")
    if record.revoked_at is not None:
        raise KeyRevoked(f"API key {record.key_id} of station {record.station!r} was revoked")
    return record


def list_keys(*, session: Session, station: str | None = None) -> list[ApiKeyRecord]:
    query = select(ApiKeyRecord).order_by(ApiKeyRecord.station, ApiKeyRecord.created_at)
    if station is not None:
        query = query.where(ApiKeyRecord.station == station)
    return list(session.scalars(query).all())


def revoke_keys(*, session: Session, key_id: str | None = None, station: str | None = None) -> list[ApiKeyRecord]:
    """Revoke one key by id, or every active key of a station; returns the keys revoked now."""
    if (key_id is None) == (station is None):
        raise InvalidRequest("revoke either one key (by key id) or a whole station, not both or neither")
    query = select(ApiKeyRecord).where(ApiKeyRecord.revoked_at.is_(None))
    query = query.where(ApiKeyRecord.key_id == key_id) if key_id is not None else query.where(ApiKeyRecord.station == station)
    records = list(session.scalars(query).all())
    now = utcnow()
    for record in records:
        record.revoked_at = now
    session.commit()
    return records
