"""bench/gray_thresholds.py: gray thresholds chosen so that no choosing rendering passes its false-alarm rate."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import load_bench
from xscreen.training.calibrate import TopScores


@pytest.fixture(scope="module")
def bench():
    return load_bench("gray_thresholds")


def _scores(negative: list[float], positive: list[float]) -> TopScores:
    top = np.array(negative + positive)
    present = np.array([False] * len(negative) + [True] * len(positive))
    return TopScores(np.array(["gray"] * len(top)), {"drug_tablets": top}, {"drug_tablets": present})


def test_the_threshold_holds_on_every_choosing_rendering(bench) -> None:
    rng = np.random.default_rng(0)
    mild = _scores(list(rng.uniform(0.0, 0.2, 100)), [0.9])
    harsh = _scores(list(rng.uniform(0.0, 0.6, 100)), [0.9])  # a drawing the model finds more drugs in
    chosen = bench.choose({"mild": mild, "harsh": harsh}, ["drug_tablets"], {"drug_tablets": 0.05})["drug_tablets"]
    assert bench.far_at(harsh, "drug_tablets", chosen) <= 0.05
    assert bench.far_at(mild, "drug_tablets", chosen) == 0.0
    assert chosen > 0.2


def test_a_class_without_positives_or_negatives_is_not_chosen(bench) -> None:
    only_negatives = _scores([0.1, 0.3], [])
    assert bench.choose({"r": only_negatives}, ["drug_tablets"], {"drug_tablets": 0.05}) == {}
    assert bench.far_at(_scores([], [0.5]), "drug_tablets", 0.2) is None
