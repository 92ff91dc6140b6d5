"""Output decoding: the same boxes as ultralytics' non_max_suppression, for every layout the export makes."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.vision.postprocess import batched_nms, decode, decode_end2end, decode_yolo_raw, nms


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
