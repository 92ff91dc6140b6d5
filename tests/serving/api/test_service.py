"""run_engine, the batcher's run_batch: the one screening path per batch; when a batch fails, each scan alone."""

from __future__ import annotations

import numpy as np

from xscreen.serving.api.service import run_engine
from xscreen.vision.detections import Detections
from xscreen.vision.scan import Scan


class OneBadScanEngine:
    """Fails any batch holding the scan whose source is 'bad' (as an engine bug on one odd input would)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_scans(self, scans: list[Scan]) -> list[Detections]:
        self.calls.append(len(scans))
        if any(s.source == "bad" for s in scans):
            raise RuntimeError("cannot handle this one")
        return [Detections([[0, 0, 1, 1]], [0.5], [0]) for _ in scans]


def scan(source: str) -> Scan:
    return Scan(np.zeros((8, 8, 3), np.uint8), "colour", source=source)


def test_a_failing_scan_fails_alone_and_its_batch_mates_are_answered() -> None:
    engine = OneBadScanEngine()
    results = run_engine(engine, [scan("a"), scan("bad"), scan("c")])
    assert engine.calls == [3, 1, 1, 1]
    screenings = [r.screening for r in results]
    assert [s.error is None for s in screenings] == [True, False, True]
    assert isinstance(screenings[1].error, RuntimeError) and len(screenings[1].detections) == 0
    assert len(screenings[0].detections) == 1 and results[0].batch_size == 3  # the batch it was submitted in


def test_a_good_batch_is_one_call() -> None:
    engine = OneBadScanEngine()
    results = run_engine(engine, [scan("a"), scan("b")])
    assert engine.calls == [2] and all(r.screening.error is None and r.batch_size == 2 for r in results)
    assert run_engine(engine, [scan("bad")])[0].screening.error is not None
