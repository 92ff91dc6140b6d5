"""Output decoding: the same boxes as ultralytics' non_max_suppression, for every layout the export makes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from xscreen.vision.postprocess import Confusable, batched_nms, decode, decode_end2end, decode_yolo_raw, nms


def _raw_head(rng: np.random.Generator, *, batch: int, nc: int, anchors: int, size: int = 416) -> np.ndarray:
    """A plausible (B, 4 + nc, N) head output: clustered boxes so that NMS has work to do."""
    centres = rng.uniform(40, size - 40, size=(batch, 6, 2))
    pick = rng.integers(0, 6, size=(batch, anchors))
    xy = np.take_along_axis(centres, pick[..., None], axis=1) + rng.normal(0, 4, size=(batch, anchors, 2))
    wh = rng.uniform(20, 80, size=(batch, anchors, 2))
    scores = rng.uniform(0, 1, size=(batch, anchors, nc)) ** 4
    out = np.concatenate([xy, wh, scores], axis=2).astype(np.float32)
    return out.transpose(0, 2, 1).copy()


@pytest.mark.parametrize(("batch", "nc", "conf", "iou"), [(1, 9, 0.25, 0.45), (3, 9, 0.05, 0.7), (2, 1, 0.5, 0.3), (2, 80, 0.1, 0.6)])
def test_yolo_raw_matches_ultralytics_nms(batch: int, nc: int, conf: float, iou: float) -> None:
    torch = pytest.importorskip("torch")
    from ultralytics.utils.nms import non_max_suppression

    output = _raw_head(np.random.default_rng(batch * 100 + nc), batch=batch, nc=nc, anchors=2000)
    ours = decode_yolo_raw(output, conf=conf, iou=iou)
    theirs = non_max_suppression(torch.from_numpy(output), conf, iou, max_det=300)
    assert len(ours) == len(theirs) == batch
    for o, t in zip(ours, theirs):
        t = t.numpy()
        assert len(o) == len(t) > 0
        order_o, order_t = np.argsort(-o.scores, kind="stable"), np.argsort(-t[:, 4], kind="stable")
        np.testing.assert_allclose(o.xyxy[order_o], t[order_t, :4], atol=1e-3)
        np.testing.assert_allclose(o.scores[order_o], t[order_t, 4], atol=1e-6)
        np.testing.assert_array_equal(o.classes[order_o], t[order_t, 5].astype(np.int64))


def test_end2end_filters_by_score_and_keeps_order() -> None:
    out = np.array([[[0, 0, 10, 10, 0.9, 2], [5, 5, 20, 20, 0.1, 0], [1, 1, 3, 3, 0.5, 1]]], np.float32)
    (det,) = decode_end2end(out, conf=0.25)
    np.testing.assert_array_equal(det.classes, [2, 1])
    np.testing.assert_allclose(det.scores, [0.9, 0.5])
    assert det.xyxy.shape == (2, 4)


def test_max_det_caps_results() -> None:
    out = _raw_head(np.random.default_rng(0), batch=1, nc=3, anchors=3000)
    (det,) = decode_yolo_raw(out, conf=0.0, iou=0.99, max_det=7)
    assert len(det) == 7


def test_nms_keeps_best_and_other_classes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [0, 3])
    classes = np.array([0, 0, 1, 0])
    np.testing.assert_array_equal(batched_nms(boxes, scores, classes, 0.5), [0, 2, 3])


def test_empty_outputs() -> None:
    out = np.zeros((2, 13, 100), np.float32)
    assert [len(d) for d in decode_yolo_raw(out, conf=0.25, iou=0.45)] == [0, 0]
    assert [len(d) for d in decode_end2end(np.zeros((1, 300, 6), np.float32), conf=0.25)] == [0]


@pytest.mark.parametrize(
    ("shape", "layout"),
    [((1, 4, 10), "yolo_raw"), ((13, 100), "yolo_raw"), ((1, 300, 5), "end2end"), ((1, 13, 100), "mystery")],
)
def test_bad_outputs_are_refused(shape: tuple[int, ...], layout: str) -> None:
    with pytest.raises(ValueError):
        decode(np.zeros(shape, np.float32), layout=layout, conf=0.25, iou=0.45)


# ---- look-alike classes (issue 18.4): crafted heads, classes 0 firearm, 1 knife, 2 tool ------------------------

def _head(anchors: list[tuple[tuple[float, float, float, float], tuple[float, ...]]]) -> np.ndarray:
    """(1, 4 + nc, N) from (cx, cy, w, h), (one score per class) per anchor."""
    rows = [list(box) + list(scores) for box, scores in anchors]
    return np.array(rows, np.float32).T[None].copy()


FIREARM, KNIFE, TOOL = 0, 1, 2
RULE = Confusable(FIREARM, (KNIFE, TOOL))


def test_no_rule_decodes_as_ultralytics_whatever_the_rivals_score() -> None:
    out = _head([((50, 50, 40, 20), (0.60, 0.55, 0.0)), ((200, 200, 40, 40), (0.9, 0.0, 0.0))])
    (det,) = decode_yolo_raw(out, conf=0.25, iou=0.45)
    np.testing.assert_array_equal(det.classes, [FIREARM, FIREARM])


def test_margin_turns_a_close_firearm_anchor_into_its_rival_and_keeps_clear_guns() -> None:
    out = _head([
        ((50, 50, 40, 20), (0.60, 0.55, 0.10)),  # a blade: firearm only just ahead of knife
        ((200, 200, 40, 40), (0.90, 0.05, 0.02)),  # a gun
        ((300, 300, 30, 30), (0.50, 0.02, 0.45)),  # a wrench: the best rival is tool
    ])
    (det,) = decode_yolo_raw(out, conf=0.25, iou=0.45, confusable=(replace(RULE, margin=0.1),))
    order = np.argsort(det.xyxy[:, 0])
    np.testing.assert_array_equal(det.classes[order], [KNIFE, FIREARM, TOOL])
    np.testing.assert_allclose(det.scores[order], [0.55, 0.90, 0.45], atol=1e-6)


def test_margin_gives_way_before_the_score_filter() -> None:
    # firearm 0.3 over knife 0.2: under a 0.2 margin the anchor is a knife at 0.2, below conf, so nothing is left
    out = _head([((50, 50, 40, 20), (0.30, 0.20, 0.0))])
    (det,) = decode_yolo_raw(out, conf=0.25, iou=0.45, confusable=(replace(RULE, margin=0.2),))
    assert len(det) == 0


def test_discount_scales_the_target_by_its_rival_and_hands_over_when_it_falls_below() -> None:
    out = _head([
        ((50, 50, 40, 20), (0.60, 0.50, 0.0)),  # 0.6 x 0.5 = 0.30 < 0.50: a knife
        ((200, 200, 40, 40), (0.80, 0.10, 0.0)),  # 0.8 x 0.9 = 0.72: still a firearm
        ((300, 300, 30, 30), (0.10, 0.80, 0.0)),  # a knife anchor is not touched
    ])
    (det,) = decode_yolo_raw(out, conf=0.25, iou=0.45, confusable=(replace(RULE, discount=True),))
    order = np.argsort(det.xyxy[:, 0])
    np.testing.assert_array_equal(det.classes[order], [KNIFE, FIREARM, KNIFE])
    np.testing.assert_allclose(det.scores[order], [0.50, 0.72, 0.80], atol=1e-6)


def test_suppression_drops_a_firearm_box_under_a_stronger_overlapping_rival_only() -> None:
    out = _head([
        ((50, 50, 40, 20), (0.00, 0.70, 0.0)),  # knife box
        ((52, 50, 40, 20), (0.40, 0.00, 0.0)),  # firearm on the knife, weaker: dropped
        ((200, 200, 40, 40), (0.80, 0.00, 0.0)),  # firearm with
        ((202, 200, 40, 40), (0.00, 0.60, 0.0)),  # a weaker knife on it: both stay
        ((400, 400, 40, 40), (0.50, 0.00, 0.0)),  # firearm alone
    ])
    (plain,) = decode_yolo_raw(out, conf=0.25, iou=0.45)
    assert len(plain) == 5  # class-aware NMS never lets a knife suppress a firearm
    (det,) = decode_yolo_raw(out, conf=0.25, iou=0.45, confusable=(replace(RULE, suppress_iou=0.5),))
    kept = sorted(zip(det.xyxy[:, 0].round().tolist(), det.classes.tolist()))
    assert kept == [(30, KNIFE), (180, FIREARM), (182, KNIFE), (380, FIREARM)]
    # IoU of the two boxes at (50, 50) and (52, 50) is 38 * 20 / (42 * 20) = 0.905: a 0.95 rule keeps both
    (loose,) = decode_yolo_raw(out, conf=0.25, iou=0.45, confusable=(replace(RULE, suppress_iou=0.95),))
    assert len(loose) == 5


def test_suppression_ratio_lets_a_close_rival_below_the_target_and_below_conf_suppress_it() -> None:
    # a wrench read as a firearm at 0.30 with a tool box at 0.24 on it (below conf 0.25): seen at ratio 0.75
    out = _head([((50, 50, 40, 20), (0.30, 0.0, 0.0)), ((51, 50, 40, 20), (0.0, 0.0, 0.24)), ((200, 200, 40, 40), (0.80, 0.0, 0.50))])
    (strict,) = decode_yolo_raw(out, conf=0.25, iou=0.45, confusable=(replace(RULE, suppress_iou=0.5),))
    np.testing.assert_array_equal(np.sort(strict.classes), [FIREARM, FIREARM])  # the tool box is below conf, not returned
    (ratio,) = decode_yolo_raw(out, conf=0.25, iou=0.45, confusable=(replace(RULE, suppress_iou=0.5, suppress_ratio=0.75),))
    np.testing.assert_array_equal(ratio.classes, [FIREARM])  # 0.24 > 0.75 x 0.30 drops it; the 0.24 tool box itself stays out
    np.testing.assert_allclose(ratio.scores, [0.80])


@pytest.mark.parametrize("ratio", [1.0, 0.8, 0.5])
def test_suppression_keeps_station_boxes_whatever_the_decoding_floor(ratio: float) -> None:
    """Evaluate decodes down to 0.001, stations at the card's threshold: above it they must keep the same boxes."""
    output = _raw_head(np.random.default_rng(7), batch=2, nc=3, anchors=3000)
    rule = (replace(RULE, suppress_iou=0.5, margin=0.05, suppress_ratio=ratio),)
    for low, high in zip(decode_yolo_raw(output, conf=0.001, iou=0.45, confusable=rule), decode_yolo_raw(output, conf=0.25, iou=0.45, confusable=rule)):
        above = low.scores > 0.25
        assert above.sum() == len(high) > 0
        o, h = np.argsort(-low.scores[above], kind="stable"), np.argsort(-high.scores, kind="stable")
        np.testing.assert_array_equal(low.classes[above][o], high.classes[h])
        np.testing.assert_allclose(low.xyxy[above][o], high.xyxy[h])


def test_end2end_applies_suppression_and_refuses_per_anchor_rules() -> None:
    out = np.array([[[0, 0, 10, 10, 0.4, FIREARM], [0, 0, 10, 11, 0.7, KNIFE], [50, 50, 60, 60, 0.5, FIREARM]]], np.float32)
    (det,) = decode_end2end(out, conf=0.25, confusable=(replace(RULE, suppress_iou=0.5),))
    np.testing.assert_array_equal(det.classes, [KNIFE, FIREARM])
    with pytest.raises(ValueError, match="yolo_raw"):
        decode_end2end(out, conf=0.25, confusable=(replace(RULE, margin=0.1),))


@pytest.mark.parametrize("rule", [Confusable(FIREARM, (FIREARM,)), Confusable(FIREARM, (7,)), Confusable(5, (KNIFE,)), Confusable(FIREARM, ())])
def test_bad_confusable_rules_are_refused(rule: Confusable) -> None:
    with pytest.raises(ValueError, match="distinct indices"):
        decode_yolo_raw(np.zeros((1, 7, 10), np.float32), conf=0.25, iou=0.45, confusable=(rule,))
