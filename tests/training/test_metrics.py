"""Metric arithmetic on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.training.metrics import ImageResult, box_iou, class_metrics, match_predictions, screening_metrics


def img(gt, gtc, pred, scores, pc) -> ImageResult:
    f = lambda x: np.array(x, np.float32).reshape(-1, 4)  # noqa: E731
    return ImageResult(f(gt), np.array(gtc, np.int64), f(pred), np.array(scores, np.float32), np.array(pc, np.int64))


def test_box_iou() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert box_iou(a, b) == pytest.approx(np.array([[1.0, 50 / 150, 0.0]]))


def test_perfect_predictions_give_ap_one() -> None:
    images = [img([[0, 0, 10, 10]], [0], [[0, 0, 10, 10]], [0.9], [0]), img([[5, 5, 20, 20]], [0], [[5, 5, 20, 20]], [0.8], [0])]
    m = class_metrics(images, 0, operating_conf=0.5)
    assert (m.ap50, m.ap50_95, m.precision, m.recall, m.instances) == (pytest.approx(1.0), pytest.approx(1.0), 1.0, 1.0, 2)


def test_wrong_class_and_duplicates_are_false_positives() -> None:
    image = img([[0, 0, 10, 10]], [0], [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8, 0.7], [0, 0, 1])
    tp = match_predictions(image)
    assert tp[:, 0].tolist() == [True, False, False]
    m = class_metrics([image], 0, operating_conf=0.5)
    assert m.precision == 0.5 and m.recall == 1.0 and m.ap50 == pytest.approx(1.0)


def test_missed_object_halves_recall_and_ap() -> None:
    image = img([[0, 0, 10, 10], [50, 50, 60, 60]], [0, 0], [[0, 0, 10, 10]], [0.9], [0])
    m = class_metrics([image], 0, operating_conf=0.5)
    assert m.recall == 0.5
    assert m.ap50 == pytest.approx(51 / 101)  # precision 1 up to recall 0.5, 0 beyond


def test_loose_box_counts_at_50_not_at_95() -> None:
    image = img([[0, 0, 10, 10]], [0], [[0, 0, 10, 12]], [0.9], [0])  # IoU 0.833
    tp = match_predictions(image)
    assert tp[0].tolist() == [True] * 7 + [False] * 3


def test_screening_rates_and_threshold_sweep() -> None:
    holds = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    scores = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.2, 0.0, 0.0])
    s = screening_metrics(holds, scores, operating_flags=scores >= 0.5)
    assert (s.detection_rate, s.false_alarm_rate) == (0.75, 0.25)
    assert s.threshold_for_90 == pytest.approx(0.3) and s.false_alarm_at_90 == 0.25
    assert s.threshold_for_95 == pytest.approx(0.3)
    # no false alarm allowed: the 0.7 negative caps detection at the two scans above it; one in four: all four
    assert s.detection_at(0.0) == 0.5 and s.detection_at(0.25) == 1.0 and s.detection_at(0.05) == 0.5
