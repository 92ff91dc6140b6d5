"""run_engine, the batcher's run_batch: the one screening path per batch; when a batch fails, each scan alone."""

from __future__ import annotations

from tests.factories import OneBadScanEngine, colour_scan
from xscreen.serving.api.service import run_engine


def test_a_failing_scan_fails_alone_and_its_batch_mates_are_answered() -> None:
    engine = OneBadScanEngine()
    results = run_engine(engine, [colour_scan("a"), colour_scan("bad"), colour_scan("c")])
    assert engine.calls == [3, 1, 1, 1]
    screenings = [r.screening for r in results]
    assert [s.error is None for s in screenings] == [True, False, True]
    assert isinstance(screenings[1].error, RuntimeError) and len(screenings[1].detections) == 0
    assert len(screenings[0].detections) == 1 and results[0].batch_size == 3  # the batch it was submitted in


def test_a_good_batch_is_one_call() -> None:
    engine = OneBadScanEngine()
    results = run_engine(engine, [colour_scan("a"), colour_scan("b")])
    assert engine.calls == [2] and all(r.screening.error is None and r.batch_size == 2 for r in results)
    assert run_engine(engine, [colour_scan("bad")])[0].screening.error is not None
