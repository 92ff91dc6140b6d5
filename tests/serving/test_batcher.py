"""MicroBatcher: list in, equal-length list out; batches by size and delay; errors go to the whole batch;
a full queue refuses at once; stop drains."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

import pytest

from xscreen.errors import QueueFull
from xscreen.serving.batcher import MicroBatcher


def run(coro):
    return asyncio.run(coro)


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.delay = delay

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return [i * 10 for i in items]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_batch_size": 0}, ValueError),
        ({"max_batch_size": 2.5}, ValueError),
        ({"max_queue_size": 0}, ValueError),
        ({"max_queue_delay_ms": -1}, ValueError),
        ({"instances": 0}, ValueError),
        ({"run_batch": 42}, TypeError),
    ],
)
def test_bad_limits_fail_at_construction(kwargs: dict, error: type[Exception]) -> None:
    args = {"run_batch": Recorder(), "max_batch_size": 4, "max_queue_delay_ms": 1.0, "max_queue_size": 8, **kwargs}
    with pytest.raises(error):
        MicroBatcher(args.pop("run_batch"), **args)


def test_concurrent_submits_are_batched_and_answered_in_order() -> None:
    recorder = Recorder()
    sizes: list[int] = []

    async def main() -> list[int]:
        batcher = MicroBatcher(recorder, max_batch_size=4, max_queue_delay_ms=50, max_queue_size=100, on_batch=lambda n, s: sizes.append(n))
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        await batcher.stop()
        return results

    assert run(main()) == [i * 10 for i in range(10)]
    assert [len(b) for b in recorder.batches] == [4, 4, 2] and sizes == [4, 4, 2]
    assert sorted(sum(recorder.batches, [])) == list(range(10))
    assert all(name.startswith("xscreen-") for name in recorder.threads)  # off the event loop


class Overlap:
    """run_batch that records how many batches were inside it at once. With `meet`, every batch waits at a
    barrier for another one: it passes only if that many run at the same time (the timeout only ends a failure)."""

    def __init__(self, meet: int | None = None) -> None:
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(meet, timeout=30) if meet else None

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        if self.barrier is not None:
            self.barrier.wait()
        with self.lock:
            self.inside -= 1
        return [i * 10 for i in items]


def test_two_instances_run_two_batches_at_once() -> None:
    overlap = Overlap(meet=2)

    async def main() -> list[int]:
        batcher = MicroBatcher(overlap, max_batch_size=2, max_queue_delay_ms=0, max_queue_size=16, instances=2)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(4)))
        await batcher.stop()
        return results

    assert run(main()) == [0, 10, 20, 30]
    assert overlap.most == 2


def test_one_instance_runs_one_batch_at_a_time() -> None:
    overlap = Overlap()

    async def main() -> list[int]:
        batcher = MicroBatcher(overlap, max_batch_size=2, max_queue_delay_ms=0, max_queue_size=16)
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(8)))
        await batcher.stop()
        return results

    assert run(main()) == [i * 10 for i in range(8)]
    assert overlap.most == 1


def test_stop_with_instances_busy_finishes_every_batch() -> None:
    recorder = Recorder(delay=0.05)

    async def main() -> list[int]:
        batcher = MicroBatcher(recorder, max_batch_size=2, max_queue_delay_ms=0, max_queue_size=16, instances=2)
        await batcher.start()
        calls = [asyncio.ensure_future(batcher.submit(i)) for i in range(7)]
        await asyncio.sleep(0)  # queued, some batches running
        await batcher.stop()
        return [c.result() for c in calls]

    assert run(main()) == [i * 10 for i in range(7)]
    assert sorted(sum(recorder.batches, [])) == list(range(7))


def test_a_lone_item_leaves_after_the_delay() -> None:
    async def main() -> float:
        batcher = MicroBatcher(Recorder(), max_batch_size=8, max_queue_delay_ms=100, max_queue_size=8)
        await batcher.start()
        started = time.monotonic()
        assert await batcher.submit(1) == 10
        waited = time.monotonic() - started
        await batcher.stop()
        return waited

    assert 0.09 <= run(main()) < 2.0


def test_zero_delay_runs_without_waiting_and_batches_what_queued_meanwhile() -> None:
    recorder = Recorder(delay=0.05)

    async def main() -> None:
        batcher = MicroBatcher(recorder, max_batch_size=8, max_queue_delay_ms=0, max_queue_size=64)
        await batcher.start()
        await asyncio.gather(*(batcher.submit(i) for i in range(6)))
        await batcher.stop()

    run(main())
    assert sum(len(b) for b in recorder.batches) == 6


def test_an_exception_reaches_every_caller_of_its_batch_only() -> None:
    def flaky(items: list[int]) -> list[int]:
        if 3 in items:
            raise RuntimeError("engine broke")
        return items

    async def main() -> list[object]:
        batcher = MicroBatcher(flaky, max_batch_size=2, max_queue_delay_ms=20, max_queue_size=10)
        await batcher.start()
        out = await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)
        await batcher.stop()
        return out

    out = run(main())
    assert out[:2] == [0, 1] and out[4:] == [4, 5]
    assert all(isinstance(e, RuntimeError) for e in out[2:4])


def test_wrong_result_length_is_an_error_for_the_batch() -> None:
    async def main() -> None:
        batcher = MicroBatcher(lambda items: items[:-1], max_batch_size=4, max_queue_delay_ms=1, max_queue_size=4)
        await batcher.start()
        with pytest.raises(ValueError, match="returned 0 results for 1 items"):
            await batcher.submit(1)
        await batcher.stop()

    run(main())


def test_full_queue_refuses_at_once() -> None:
    async def main() -> None:
        batcher = MicroBatcher(Recorder(), max_batch_size=8, max_queue_delay_ms=500, max_queue_size=2)
        await batcher.start()
        waiting = [asyncio.create_task(batcher.submit(i)) for i in range(2)]
        await asyncio.sleep(0.01)
        assert batcher.queue_depth == 2
        with pytest.raises(QueueFull):
            await batcher.submit(99)
        assert await asyncio.gather(*waiting) == [0, 10]
        await batcher.stop()

    run(main())


def test_stop_finishes_queued_items_and_refuses_new_ones() -> None:
    recorder = Recorder(delay=0.02)

    async def main() -> list[int]:
        batcher = MicroBatcher(recorder, max_batch_size=2, max_queue_delay_ms=1000, max_queue_size=16)
        await batcher.start()
        pending = [asyncio.create_task(batcher.submit(i)) for i in range(5)]
        await asyncio.sleep(0.01)
        await batcher.stop()  # does not wait out the 1 s delay: stopping flushes
        assert not batcher.running
        with pytest.raises(QueueFull, match="shutting down"):
            await batcher.submit(7)
        return [p.result() for p in pending]

    assert run(main()) == [0, 10, 20, 30, 40]


def test_submit_before_start_is_a_programming_error() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="not started"):
            await MicroBatcher(Recorder(), max_batch_size=1, max_queue_delay_ms=0, max_queue_size=1).submit(1)

    run(main())


def test_an_idle_batcher_keeps_no_item_of_its_last_batch_alive() -> None:
    # Issue 19.2: the worker's loop variable held the last batch (1.6 GB after eight large scans) until the
    # next submit. After a burst is answered, nothing of its items or results may stay referenced.
    class Item:
        pass

    refs: list[weakref.ref[Item]] = []

    async def main() -> None:
        batcher: MicroBatcher[Item, Item] = MicroBatcher(lambda items: list(items), max_batch_size=4, max_queue_delay_ms=1, max_queue_size=16)
        await batcher.start()

        async def one() -> None:
            item = Item()
            refs.append(weakref.ref(item))
            assert await batcher.submit(item) is item

        await asyncio.gather(*(one() for _ in range(6)))
        gc.collect()
        alive = sum(ref() is not None for ref in refs)
        await batcher.stop()
        assert alive == 0, f"{alive} of 6 items still referenced by the idle batcher"

    run(main())
