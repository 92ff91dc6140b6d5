"""run_engine, the batcher's run_batch: the one screening path per batch; when a batch fails, each scan alone. What the service asks of the engine at start."""

from __future__ import annotations

import pytest

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


def test_the_service_hands_the_settings_cache_and_batch_limit_to_the_engine(make_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `serve` asks of Engine.load on any host; on this CPU host the warm-up then runs batch 1 only."""
    from xscreen.serving.api.service import open_service, warm_up
    from xscreen.serving.metrics import ServiceMetrics
    from xscreen.vision.engine import Engine

    seen: dict = {}
    real_load = Engine.load

    def load(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(Engine, "load", load)
    settings = make_settings(max_batch_size=4)
    service = open_service(settings, ServiceMetrics())
    try:
        assert seen["trt_cache_dir"] == settings.data_dir / "trt-cache" == settings.effective_trt_cache_dir
        assert seen["max_batch_size"] == 4
        warm_up(service)
        assert service.warmed_up and service.engine.warmup(service.batcher.max_batch_size) == [1]
    finally:
        service.db.dispose()
