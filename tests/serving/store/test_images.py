"""Content-addressed image storage through fsspec: local disk (durable writes) and any fsspec URL."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from xscreen.errors import ScanNotFound
from xscreen.serving.store.images import ImageStore


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ImageStore:
    if request.param == "file":
        return ImageStore((tmp_path / "scans").as_uri())
    return ImageStore(f"memory://xscreen-test-{uuid.uuid4().hex}")


def test_put_get_dedupe(store: ImageStore) -> None:
    data = b"\x89PNG fake image bytes"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.exists(digest) and store.get(digest) == data
    assert store.put(data) == digest  # same bytes, stored once
    assert store.path(digest).endswith(f"/{digest[:2]}/{digest}")


def test_local_store_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = ImageStore((tmp_path / "scans").as_uri())
    for i in range(3):
        store.put(f"image {i}".encode())
    files = sorted(p.name for p in (tmp_path / "scans").rglob("*") if p.is_file())
    assert len(files) == 3 and not any(name.startswith(".tmp") for name in files)


def test_missing_and_malformed_digests(store: ImageStore) -> None:
    with pytest.raises(ScanNotFound):
        store.get("0" * 64)
    for bad in ("../../etc/passwd", "abc", "G" * 64):
        with pytest.raises(ValueError):
            store.path(bad)
