"""Where a batch's scans come from: a directory tree, a glob, a list file, or an fsspec URL.

Every scan is named by one `source` string, the identity used by the manifest, the Parquet rows and
`batch diff`: an absolute path for local files, the full URL (`s3://bucket/key`) for anything else.
Reading goes through fsspec, so `s3://` works wherever s3fs is installed (`xscreen[cluster]`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

from xscreen.errors import InvalidRequest
from xscreen.vision.io import SCAN_SUFFIXES

logger = logging.getLogger(__name__)

# A walk of a directory tree or bucket prefix picks up SCAN_SUFFIXES; a glob or a list file takes what it
# names, so a deliberately listed odd file is still tried (and recorded with its error if it is not a scan).
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})
_GLOB_CHARS = frozenset("*?[")


def _name(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return str(Path(path).resolve()) if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


def _suffix(path: str) -> str:
    return Path(path.rstrip("/")).suffix.lower()


def _read_list(fs: fsspec.AbstractFileSystem, path: str) -> list[str]:
    """One path or URL per line; blank lines and `#` comments skipped; relative paths are relative to the list."""
    base = path.rsplit("/", 1)[0] if "/" in path else ""
    out = []
    with fs.open(path, "rt") as fh:
        for line in fh:
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            if "://" in entry:
                entry_fs, entry_path = fsspec.core.url_to_fs(entry)
                out.append(_name(entry_fs, entry_path))
            else:
                if not entry.startswith("/"):
                    entry = f"{base}/{entry}" if base else entry
                out.append(_name(fs, entry))
    return out


def list_sources(src: str) -> list[str]:
    """Expand SRC into the ordered, de-duplicated list of scan sources it names.

    - a directory (local path or URL prefix): every file below it with a scan suffix, sorted;
    - a pattern with `*`, `?` or `[`: every file it matches, sorted;
    - a `.txt`/`.lst`/`.list` file: the paths or URLs it lists, in its order;
    - any other single file: that one scan.
    """
    fs, path = fsspec.core.url_to_fs(src)
    if any(c in path for c in _GLOB_CHARS):
        found = sorted(p for p in fs.glob(path) if not fs.isdir(p))
        names = [_name(fs, p) for p in found]
    elif fs.isdir(path):
        found = sorted(p for p in fs.find(path) if _suffix(p) in SCAN_SUFFIXES)
        names = [_name(fs, p) for p in found]
    elif fs.isfile(path):
        names = _read_list(fs, path) if _suffix(path) in LIST_SUFFIXES else [_name(fs, path)]
    else:
        raise InvalidRequest(f"batch source {src!r} is not a directory, file, list file or matching pattern")
    unique = list(dict.fromkeys(names))
    if not unique:  # an empty folder or a pattern matching nothing is a mistaken SRC, not a finished run
        raise InvalidRequest(f"batch source {src!r} names no scans ({', '.join(sorted(SCAN_SUFFIXES))})")
    if len(unique) < len(names):
        logger.info("%s names %d sources twice; each is screened once", src, len(names) - len(unique))
    return unique


def read_source(source: str) -> bytes:
    """The raw bytes of one scan (local path or any fsspec URL)."""
    with fsspec.open(source, "rb") as fh:
        return fh.read()
