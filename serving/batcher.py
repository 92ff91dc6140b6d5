"""Micro-batching: concurrent callers submit one item each; the engine sees batches (after Ray Serve's @batch).

A batch leaves when it holds `max_batch_size` items or when its oldest item has waited
`max_queue_delay_ms` (Triton's names). `run_batch` gets a list and must return a list of the same length;
it runs in worker threads off the event loop, at most `instances` batches at once (Triton's instance group
count: on a CPU, two single-threaded engine calls at once screen 1.2-1.45x the scans of one call on two threads,
docs/bench/server.md), so `run_batch` must be safe to call from several threads (an onnxruntime session is).
While every instance is busy, scans queue and leave in the next free instance's batch. An exception inside a
batch is set on every caller of that batch. When `max_queue_size` items are
already waiting, `submit` raises `QueueFull` at once (the service answers 429) instead of queueing without
bound. `stop()` refuses new items and finishes every queued and running one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Generic, Sequence, TypeVar

from xscreen.errors import QueueFull

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    enqueued: float = field(default_factory=time.monotonic)


BatchObserver = Callable[[int, float], None]  # (batch size, seconds in run_batch)


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        run_batch: Callable[[list[T]], Sequence[R]],
        *,
        max_batch_size: int,
        max_queue_delay_ms: float,
        max_queue_size: int,
        on_batch: BatchObserver | None = None,
        name: str = "batcher",
        instances: int = 1,
    ) -> None:
        if not callable(run_batch):
            raise TypeError(f"run_batch must be callable, got {type(run_batch).__name__}")
        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ValueError(f"max_batch_size must be an int >= 1, got {max_batch_size!r}")
        if not isinstance(max_queue_size, int) or max_queue_size < 1:
            raise ValueError(f"max_queue_size must be an int >= 1, got {max_queue_size!r}")
        if max_queue_delay_ms < 0:
            raise ValueError(f"max_queue_delay_ms must be >= 0, got {max_queue_delay_ms!r}")
        if not isinstance(instances, int) or instances < 1:
            raise ValueError(f"instances must be an int >= 1, got {instances!r}")
        self.run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_queue_delay_s = max_queue_delay_ms / 1000.0
        self.max_queue_size = max_queue_size
        self.on_batch = on_batch
        self.name = name
        self.instances = instances
        self._pending: deque[_Pending[T, R]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._free: asyncio.Semaphore | None = None  # instances not running a batch
        self._running: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def queue_depth(self) -> int:
        """Items waiting for a batch (not counting the batch now running)."""
        return len(self._pending)

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done() and not self._closing

    async def start(self) -> None:
        if self._worker is not None:
            raise RuntimeError(f"{self.name} already started")
        self._wakeup = asyncio.Event()
        self._free = asyncio.Semaphore(self.instances)
        self._executor = ThreadPoolExecutor(max_workers=self.instances, thread_name_prefix=f"xscreen-{self.name}")
        self._worker = asyncio.create_task(self._work(), name=f"{self.name}-worker")

    async def submit(self, item: T) -> R:
        """Queue one item and wait for its result (or the exception its batch raised)."""
        if self._worker is None or self._wakeup is None:
            raise RuntimeError(f"{self.name} is not started")
        if self._closing:
            raise QueueFull("the service is shutting down; retry on another instance or later")
        if len(self._pending) >= self.max_queue_size:
            raise QueueFull(f"{len(self._pending)} scans are already waiting (max_queue_size {self.max_queue_size}); retry shortly")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(item, future))
        self._wakeup.set()
        return await future

    async def stop(self) -> None:
        """Refuse new items, finish the queued and running ones, release the worker thread."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._worker is not None:
            await self._worker
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _wait(self, timeout: float | None) -> bool:
        """Wait for a submit (or stop); False on timeout. An Event, unlike Queue.get, loses nothing when cancelled."""
        assert self._wakeup is not None
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def _work(self) -> None:
        assert self._free is not None
        while True:
            while not self._pending:
                if self._closing:
                    if self._running:
                        await asyncio.gather(*self._running)
                    return
                await self._wait(None)
            await self._free.acquire()  # an instance to run the batch; meanwhile the queue keeps filling
            # Fill the batch until it is full, or the oldest item has waited max_queue_delay, or we are stopping.
            while len(self._pending) < self.max_batch_size and not self._closing:
                remaining = self._pending[0].enqueued + self.max_queue_delay_s - time.monotonic()
                if remaining <= 0 or not await self._wait(remaining):
                    break
            # The batch lives in _run's frame only: a local of this loop kept the last burst's scans alive while
            # idle (1.6 GB for 60 s after eight large scans, issue 19.2).
            task = asyncio.create_task(self._run([self._pending.popleft() for _ in range(min(self.max_batch_size, len(self._pending)))]))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        assert self._free is not None
        self._free.release()

    async def _run(self, batch: list[_Pending[T, R]]) -> None:
        """One batch through `run_batch`; its items and results are referenced only until this returns."""
        batch = [p for p in batch if not p.future.done()]  # callers that went away need no inference
        if not batch:
            return
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self.run_batch, [p.item for p in batch])
            if len(results) != len(batch):
                raise ValueError(f"run_batch returned {len(results)} results for {len(batch)} items")
        except Exception as exc:  # noqa: BLE001 - handed to every caller of this batch
            logger.exception("%s: batch of %d failed", self.name, len(batch))
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
        else:
            for p, result in zip(batch, results):
                if not p.future.done():
                    p.future.set_result(result)
        if self.on_batch is not None:
            self.on_batch(len(batch), time.perf_counter() - started)
