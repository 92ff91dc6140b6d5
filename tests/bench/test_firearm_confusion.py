"""bench/firearm_confusion.py's arithmetic: each true object's highest overlapping firearm score, and how often
a metal object outscores a real gun (issue 18.4)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.factories import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("firearm_confusion")


def test_object_confusion_takes_the_best_overlapping_firearm_box_per_true_object(bench, tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    sample = SimpleNamespace(image=image, boxes=np.array([[0, 0, 100, 50], [200, 200, 260, 300], [400, 0, 450, 40], [0, 0, 90, 45]], np.float32),
                             class_names=["firearm", "knife", "tool", "tool"])  # the last: a wrench under the gun
    detections = [
        {"class_name": "firearm", "score": 0.9, "box": [2, 0, 100, 52]},  # on the gun
        {"class_name": "firearm", "score": 0.4, "box": [200, 230, 260, 300]},  # on the knife, IoU 0.7
        {"class_name": "firearm", "score": 0.6, "box": [200, 290, 260, 400]},  # touches the knife, IoU < 0.3
        {"class_name": "knife", "score": 0.95, "box": [200, 200, 260, 300]},  # not a firearm box
    ]
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text(json.dumps({"path": str(image), "kind": "gray", "detections": detections}) + "\n")
    confusion = bench.object_confusion(predictions, [sample])
    assert confusion.by_class == {"firearm": [pytest.approx(0.9)], "knife": [pytest.approx(0.4)], "tool": [0.0, 0.0]}


def test_outscore_counts_pairs_where_metal_is_strictly_higher(bench) -> None:
    confusion = bench.Confusion({"firearm": [0.9, 0.5, 0.0], "knife": [0.6, 0.0], "scissors": [0.95]})
    # knife 0.6 beats 0.5 and 0.0; knife 0.0 beats nothing (a missed gun is no confusion); scissors beats all 3
    assert confusion.outscore() == pytest.approx(5 / 9)
    assert bench.Confusion({"knife": [0.5]}).outscore() is None
