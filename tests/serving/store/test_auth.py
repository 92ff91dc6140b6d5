"""Station keys: shown once, stored as hashes, 401 unknown, 403 revoked."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from xscreen.errors import AuthError, InvalidRequest, KeyRevoked
from xscreen.serving.auth import authenticate, create_key, hash_key, list_keys, revoke_keys
from xscreen.serving.store.records import ApiKeyRecord


def test_key_is_stored_only_as_its_hash(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        key, record = create_key(session=s, station="lane-3")
    assert key.startswith(f"xsk_{record.key_id}_") and len(key) > 50
    with sessions() as s:
        stored = s.query(ApiKeyRecord).one()
        assert stored.key_hash == hash_key(key) and key not in (stored.key_hash, stored.key_id)
        assert authenticate(session=s, key=key).station == "lane-3"


@pytest.mark.parametrize("key", [None, "", "xsk_0000_nope", "not-a-key"])
def test_missing_or_unknown_keys_are_401(sessions: sessionmaker[Session], key: str | None) -> None:
    with sessions() as s:
        create_key(session=s, station="lane-1")
        with pytest.raises(AuthError) as info:
            authenticate(session=s, key=key)
    assert info.value.http_status == 401 and not isinstance(info.value, KeyRevoked)


def test_revoked_keys_are_403_and_others_keep_working(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        k1, r1 = create_key(session=s, station="lane-1")
        k2, _ = create_key(session=s, station="lane-1")
        k3, _ = create_key(session=s, station="lane-2")
        assert [r.key_id for r in revoke_keys(session=s, key_id=r1.key_id)] == [r1.key_id]
        assert revoke_keys(session=s, key_id=r1.key_id) == []  # already revoked
    with sessions() as s:
        with pytest.raises(KeyRevoked) as info:
            authenticate(session=s, key=k1)
        assert info.value.http_status == 403
        authenticate(session=s, key=k2)
        assert len(revoke_keys(session=s, station="lane-1")) == 1
        with pytest.raises(KeyRevoked):
            authenticate(session=s, key=k2)
        assert authenticate(session=s, key=k3).station == "lane-2"
        assert [(r.station, r.revoked_at is not None) for r in list_keys(session=s)] == [("lane-1", True), ("lane-1", True), ("lane-2", False)]
        assert len(list_keys(session=s, station="lane-2")) == 1


@pytest.mark.parametrize("station", ["", " lane", "lane 1", "-lane", "x" * 129, "lane/1"])
def test_bad_station_names(sessions: sessionmaker[Session], station: str) -> None:
    with sessions() as s, pytest.raises(InvalidRequest):
        create_key(session=s, station=station)


def test_revoke_needs_exactly_one_selector(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        with pytest.raises(InvalidRequest):
            revoke_keys(session=s)
        with pytest.raises(InvalidRequest):
            revoke_keys(session=s, key_id="a", station="b")
