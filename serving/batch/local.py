"""The local engine: decode threads keep a window of scans ready while `instances` threads run the model.

ONNX Runtime and the image decoders release the GIL, so decoding the next batches overlaps inference of
these; on a CPU two single-threaded engine calls at once screen more than one call on two threads
(`vision.engine.plan_instances`). Batches are committed in the order they were formed. The window is
bounded so memory stays flat however many scans the archive holds. Rows are
committed to the manifest every `commit_every` scans (or `commit_seconds`), which is how much a kill
can cost in re-work, never in lost or doubled rows.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from xscreen.serving.batch.manifest import Manifest
from xscreen.serving.batch.rows import rows_to_table
from xscreen.serving.batch.screening import Loaded, load, screen
from xscreen.vision.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

Advance = Callable[[int], None]


class RowCommitter:
    """Buffers rows and commits them as manifest parts by count or age."""

    def __init__(self, manifest: Manifest, *, every: int, seconds: float) -> None:
        self.manifest, self.every, self.seconds = manifest, every, seconds
        self.buffer: list[dict[str, Any]] = []
        self.last = time.monotonic()

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.buffer.extend(rows)
        if len(self.buffer) >= self.every or time.monotonic() - self.last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.manifest.commit(rows_to_table(self.buffer))
            self.buffer = []
        self.last = time.monotonic()


@dataclass
class LocalStats:
    """Where the main thread's time went: the engine should be busy nearly all of it."""

    waiting_s: float = 0.0  # for decode threads: raise --workers when this is large
    screening_s: float = 0.0  # for the engine instances (engine, policy, annotation): the engine is the bottleneck
    committing_s: float = 0.0  # Parquet parts and manifest

    @property
    def screening_share(self) -> float:
        total = self.waiting_s + self.screening_s + self.committing_s
        return self.screening_s / total if total else 0.0


def run_local(
    pending: Iterable[str],
    *,
    manifest: Manifest,
    engine: Any,
    policy: Any,
    taxonomy: Taxonomy,
    batch_size: int,
    workers: int,
    max_pixels: int | None,
    annotate_dir: Path | None,
    commit_every: int,
    commit_seconds: float,
    advance: Advance | None = None,
    instances: int = 1,
) -> LocalStats:
    """Screen every pending source, committing rows as it goes."""
    stats = LocalStats()
    committer = RowCommitter(manifest, every=commit_every, seconds=commit_seconds)
    sources = iter(pending)
    depth = (instances + 1) * batch_size + workers  # a batch on each instance, one decoding, the threads busy
    window: deque[Future[Loaded]] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch-decode")
    screeners = ThreadPoolExecutor(max_workers=instances, thread_name_prefix="batch-screen")
    screening: deque[tuple[Future[list[dict[str, Any]]], int]] = deque()  # (rows, batch size), in the order formed

    def commit_oldest() -> None:
        t0 = time.perf_counter()
        rows_future, n = screening.popleft()
        rows = rows_future.result()
        t1 = time.perf_counter()
        committer.add(rows)
        stats.screening_s += t1 - t0
        stats.committing_s += time.perf_counter() - t1
        if advance is not None:
            advance(n)

    def fill() -> None:
        while len(window) < depth:
            source = next(sources, None)
            if source is None:
                return
            window.append(pool.submit(load, source, max_pixels=max_pixels))

    try:
        fill()
        batch: list[Loaded] = []
        while window:
            t0 = time.perf_counter()
            batch.append(window.popleft().result())
            fill()
            t1 = time.perf_counter()
            stats.waiting_s += t1 - t0
            if len(batch) == batch_size or not window:
                while len(screening) >= instances:
                    commit_oldest()
                screening.append((screeners.submit(screen, batch, engine=engine, policy=policy, taxonomy=taxonomy, annotate_dir=annotate_dir),
                                  len(batch)))
                batch = []
        while screening:
            commit_oldest()
        committer.flush()
        return stats
    except KeyboardInterrupt:
        # Keep what is screened: --resume then starts after it.
        while screening and screening[0][0].done() and screening[0][0].exception() is None:
            commit_oldest()
        committer.flush()
        raise
    finally:
        screeners.shutdown(wait=True, cancel_futures=True)
        pool.shutdown(wait=True, cancel_futures=True)
