"""Scan images stored content-addressed (sha256) through fsspec: local disk by default, any fsspec URL
(s3://, gcs://, memory://) by `scan_store_url`. The same bytes sent twice are stored once."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from xscreen.errors import ScanNotFound


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ImageStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.root = self.root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return f"{self.root}/{sha256[:2]}/{sha256}"

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store `data` durably (on local disk: written, fsynced, renamed into place) and return its sha256.

        `digest`: the caller's sha256 of `data`, when it already has one (not hashed twice)."""
        digest = digest or sha256_bytes(data)
        path = self.path(digest)
        if self.fs.exists(path):
            return digest
        if self.local:
            _write_local_durably(Path(path), data)
        else:
            self.fs.pipe_file(path, data)  # object stores acknowledge a put once it is durable
        return digest

    def get(self, sha256: str) -> bytes:
        try:
            return self.fs.cat_file(self.path(sha256))
        except FileNotFoundError as exc:
            raise ScanNotFound(f"stored image {sha256[:12]}… is missing from {self.url}") from exc

    def exists(self, sha256: str) -> bool:
        return self.fs.exists(self.path(sha256))


def _write_local_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # atomic: a reader sees the whole image or none
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
