"""bench/drug_physics_cue.py's training targets: kept drug boxes are their class, too-faint items are ignored,
and crops of scans smaller than a crop keep image and target aligned."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import load_bench


@pytest.fixture(scope="module")
def cue():
    return load_bench("drug_physics_cue")


def test_target_marks_kept_items_by_class_and_ignores_faint_ones(cue) -> None:
    meta = {"projected": [
        {"label": "drug_tablets", "box_xyxy": [0, 0, 40, 40], "kept": True},
        {"label": "drug_bulk", "box_xyxy": [80, 80, 120, 120], "kept": False},
        {"label": "firearm", "box_xyxy": [0, 80, 40, 120], "kept": True},
    ]}
    t = cue._target(meta, 0.5, (80, 80))  # a 160-px scan at half size, then the net's stride 4
    assert t.shape == (20, 20)
    assert (t[:5, :5] == 2).all()  # drug_tablets is class 2 of the net (0 is background)
    assert (t[10:15, 10:15] == -1).all()  # too faint to see: neither drug nor background
    assert (t[10:15, :5] == 0).all()  # other threats are background for the drug map
    assert cue._target(None, 1.0, (40, 40)).max() == 0  # an untouched scan


def test_crops_of_small_scans_stay_aligned(cue) -> None:
    x = np.ones((3, 100, 200), np.float32)
    t = np.zeros((25, 50), np.int64)
    t[:, :10] = 1
    xs, ts = cue._crops([(x, t)], np.random.default_rng(0), size=160)
    assert tuple(xs.shape) == (1, 3, 160, 160) and tuple(ts.shape) == (1, 40, 40)
    assert (ts[0][xs[0, 0, ::4, ::4] == 0] == 0).all()  # padding is background
