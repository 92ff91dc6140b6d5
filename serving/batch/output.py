"""A batch run's directory: what it holds, how it is opened for a new run or a resume, and finishing it.

```
OUT/
  run.json          what ran: source, model, policy version, engine, options, counts when finished
  manifest.jsonl    committed parts and the sources in each (see manifest.py)
  parts/            part-NNNNNN.parquet, the rows as they were committed
  results.parquet   every row, sorted by source (written when the run finishes)
  results.jsonl     the same rows as JSON lines (with --jsonl)
  report.md         summary; charts/*.png beside it
  annotated/        <sha256>.png of flagged scans (with --save-annotated)
```
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from xscreen.errors import ConfigError
from xscreen.serving.batch.manifest import Manifest
from xscreen.serving.batch.rows import ROW_SCHEMA

RUN_FILE = "run.json"
RESULTS_FILE = "results.parquet"
JSONL_FILE = "results.jsonl"
ANNOTATED_DIR = "annotated"
# A resumed run must screen with what the first attempt used, or its rows would mix two models.
# (Runs written before `variant` was recorded ran fp32.)
_MUST_MATCH = {"model": None, "policy_version": None, "variant": "fp32"}


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class RunDir:
    path: Path

    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def results(self) -> Path:
        return self.path / RESULTS_FILE

    @property
    def jsonl(self) -> Path:
        return self.path / JSONL_FILE

    @property
    def annotated(self) -> Path:
        return self.path / ANNOTATED_DIR

    def read_meta(self) -> dict[str, Any]:
        return json.loads(self.run_file.read_text())

    def write_meta(self, meta: dict[str, Any]) -> None:
        _write_atomic(self.run_file, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())

    def open(self, meta: dict[str, Any], *, resume: bool) -> Manifest:
        """Start a run here, or pick up the one already here (`resume`); returns its loaded manifest."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.run_file.exists():
            if not resume:
                raise ConfigError(f"{self.path} already holds a batch run; pass --resume to finish it, or choose another --out")
            previous = self.read_meta()
            for key, default in _MUST_MATCH.items():
                if previous.get(key, default) != meta.get(key, default):
                    raise ConfigError(
                        f"cannot resume {self.path}: it ran with {key} {previous.get(key, default)!r}, this run has {meta.get(key)!r}"
                    )
            meta = {**previous, "resumed_at": [*previous.get("resumed_at", []), now_utc()]}
        self.write_meta(meta)
        return Manifest(self.path).load()

    def finish(self, manifest: Manifest, *, jsonl: bool) -> pa.Table:
        """Gather every committed part into results.parquet (sorted by source) and, if asked, results.jsonl."""
        parts = [pq.read_table(p, schema=ROW_SCHEMA) for p in manifest.part_paths()]
        table = pa.concat_tables(parts) if parts else ROW_SCHEMA.empty_table()
        table = table.sort_by("source")
        tmp = self.results.with_name(RESULTS_FILE + ".tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, self.results)
        if jsonl:
            lines = (json.dumps(row, separators=(",", ":")) for row in table.to_pylist())
            _write_atomic(self.jsonl, ("\n".join(lines) + "\n" if table.num_rows else "").encode())
        return table


def read_results(run: Path) -> pa.Table:
    """A finished run's rows: accepts the run directory or its results.parquet."""
    path = run / RESULTS_FILE if run.is_dir() else run
    if not path.exists():
        raise ConfigError(f"{run} has no {RESULTS_FILE}; is it a finished batch run?")
    return pq.read_table(path, schema=ROW_SCHEMA)
