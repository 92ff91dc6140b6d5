"""The manifest of finished scans, and the committed Parquet parts it points to.

Exactly-once on a kill at any moment rests on one ordering:

1. rows are written to `parts/part-NNNNNN.parquet.tmp`, fsynced, and renamed to their final name;
2. then one line naming that part and its sources is appended to `manifest.jsonl` and fsynced.

The appended line is the commit. On resume, a part file without a manifest line (killed between 1 and
2) is deleted and its scans are screened again; a last manifest line without its newline (killed
inside the write) is ignored and its part deleted the same way. So a scan is either in exactly one
committed part or in none, never in two.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

PART_GLOB = "part-*.parquet*"


@dataclass(frozen=True)
class ManifestEntry:
    part: str  # file name inside parts/
    sources: tuple[str, ...]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Manifest:
    """Append-only record of committed parts; `done` is every source in them."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "manifest.jsonl"
        self.parts_dir = run_dir / "parts"
        self.entries: list[ManifestEntry] = []
        self.done: set[str] = set()

    def load(self) -> "Manifest":
        """Read the committed entries and delete whatever a killed run left uncommitted."""
        self.entries, self.done = [], set()
        if self.path.exists():
            raw = self.path.read_bytes()
            complete, _, torn = raw.rpartition(b"\n")
            if torn:
                logger.warning("manifest %s ends in a torn line (a killed write); ignoring it", self.path)
                self._truncate(len(complete) + 1 if complete else 0)
            for line in complete.splitlines():
                if line.strip():
                    obj = json.loads(line)
                    self._add(ManifestEntry(part=obj["part"], sources=tuple(obj["sources"])))
        self._remove_uncommitted()
        return self

    def _truncate(self, size: int) -> None:
        with open(self.path, "r+b") as fh:
            fh.truncate(size)
            os.fsync(fh.fileno())

    def _add(self, entry: ManifestEntry) -> None:
        self.entries.append(entry)
        self.done.update(entry.sources)

    def _remove_uncommitted(self) -> None:
        if not self.parts_dir.is_dir():
            return
        committed = {e.part for e in self.entries}
        for path in self.parts_dir.glob(PART_GLOB):
            if path.name not in committed:
                logger.info("removing uncommitted part %s left by an interrupted run", path.name)
                path.unlink()

    def next_part_name(self) -> str:
        used = [int(e.part.split("-")[1].split(".")[0]) for e in self.entries]
        return f"part-{(max(used) + 1) if used else 0:06d}.parquet"

    def commit(self, table: pa.Table) -> ManifestEntry:
        """Write `table` as the next part, then append its manifest line (the commit)."""
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        name = self.next_part_name()
        final = self.parts_dir / name
        tmp = final.with_name(name + ".tmp")
        pq.write_table(table, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.parts_dir)
        entry = ManifestEntry(part=name, sources=tuple(table.column("source").to_pylist()))
        line = json.dumps({"part": entry.part, "sources": list(entry.sources)}) + "\n"
        # One write of one line: a kill leaves either the whole line or a torn tail that load() drops.
        with open(self.path, "ab") as fh:
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())
        self._add(entry)
        return entry

    def part_paths(self) -> list[Path]:
        return [self.parts_dir / e.part for e in self.entries]
