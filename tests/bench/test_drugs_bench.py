"""bench/drugs.py's 5 % false-alarm threshold: at most 5 % of untouched scans carry a detection at or above it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from xscreen.vision.detections import Detections

_PATH = Path(__file__).resolve().parents[2] / "bench" / "drugs.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_drugs", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _negatives(top_scores: list[float], class_id: int = 5) -> list[Detections]:
    return [Detections(np.array([[0, 0, 10, 10]]), np.array([s]), np.array([class_id])) if s > 0 else Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0))
            for s in top_scores]


@pytest.mark.parametrize("n", [20, 40, 100])
def test_far_threshold_allows_at_most_five_percent(bench, n: int) -> None:
    rng = np.random.default_rng(n)
    scores = list(rng.uniform(0.01, 0.9, n).astype(np.float32))  # as Detections carries them
    t = bench._far_threshold(_negatives(scores), 5)
    assert sum(float(s) >= t for s in scores) <= 0.05 * n
    assert sum(float(s) >= t * 0.999 for s in scores) >= int(0.05 * n)  # and no stricter than it must be


def test_far_threshold_ignores_other_classes_and_empty_scans(bench) -> None:
    negs = _negatives([0.0] * 19 + [0.8], class_id=5) + _negatives([0.99] * 5, class_id=0)
    assert bench._far_threshold(negs, 5) <= 0.8 + 1e-6  # one of 25 scans (4 %) may alarm
    assert bench._far_threshold(_negatives([0.0] * 10), 5) < 0.01
