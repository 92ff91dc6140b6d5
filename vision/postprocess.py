"""Turn a detector's output tensor into boxes, scores and class indices (model-input pixels, model class order).

Two layouts, as the model card's `output.layout` names them:
- `yolo_raw`, (B, 4 + nc, N): YOLOv8 / YOLO11 heads before NMS: cx, cy, w, h then one sigmoid score per class.
  Decoded as ultralytics' `non_max_suppression` (ultralytics/utils/nms.py, 8.4) with `multi_label=False`:
  best class per anchor, keep score > conf, at most `max_nms` by score, class-aware NMS by offsetting each
  class's boxes by `class * max_wh`, keep the first `max_det`. Vectorised numpy; NMS is greedy like
  torchvision's (suppress IoU > threshold) with one vectorised IoU row per kept box.
- `end2end`, (B, N, 6): x1, y1, x2, y2, score, class. YOLO26's NMS-free head, and also what an export with NMS
  inside the graph produces; only the score filter, `max_det` and a look-alike suppression apply.

Look-alike classes (the card's `postprocess.confusable`, issue 18.4: knives, tools and throwing stars read as
firearms on gray scans). Each `Confusable` names a target class and its rivals; with none, decoding is exactly
ultralytics'. Three rules, each off at its default:
- `margin` (yolo_raw only, per anchor, before the score filter): an anchor whose best class is the target keeps
  it only when the target's score beats the anchor's best rival score by `margin`; otherwise the anchor is the
  rival, at the rival's score. The head scores every class at every anchor, so this needs no second pass.
- `discount` (yolo_raw only, per anchor, before `margin`): the target's score becomes score x (1 - best rival
  score), the chance of "target and not the rival" when the head's sigmoid scores are read as independent; an
  anchor whose discounted score falls below the rival's is the rival. It rescales every target score, so it
  reorders them.
- `suppress_iou` (after NMS): a target box that overlaps a rival box at IoU >= `suppress_iou` scoring more than
  `suppress_ratio` x its own score is dropped (ratio 1: the rival outscores it). Rival boxes are decoded down to
  `suppress_ratio` x conf and those below conf removed after the rule, so the boxes a station keeps do not
  depend on the decoding floor (evaluate's 0.001 or the card's operating threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_WH = 7680  # per-class coordinate offset for class-aware NMS (ultralytics' value)
MAX_NMS = 30000
MAX_DET = 300


@dataclass(frozen=True)
class RawDetections:
    """One image's detections before they leave model space: boxes in model-input pixels, model class indices."""

    xyxy: np.ndarray  # (n, 4) float32
    scores: np.ndarray  # (n,) float32
    classes: np.ndarray  # (n,) int64, index into the card's `classes`

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class Confusable:
    """A class whose boxes must beat its look-alikes to stand; indices in the model's class order."""

    target: int
    rivals: tuple[int, ...]
    margin: float = 0.0  # > 0: per-anchor score margin over the best rival
    discount: bool = False  # per anchor: score x (1 - best rival score), "this class and not its look-alike"
    suppress_iou: float | None = None  # drop a target box under a rival box at IoU >= this ...
    suppress_ratio: float = 1.0  # ... that scores more than this times the target's score


def _empty() -> RawDetections:
    return RawDetections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def xywh2xyxy(xywh: np.ndarray) -> np.ndarray:
    out = np.empty_like(xywh)
    half = xywh[..., 2:4] / 2
    out[..., 0:2] = xywh[..., 0:2] - half
    out[..., 2:4] = xywh[..., 0:2] + half
    return out


def box_iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box against many."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, np.finfo(np.float32).eps)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (n, 4) and (m, 4) xyxy boxes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS; indices of kept boxes, highest score first (torchvision.ops.nms semantics)."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[box_iou_one(boxes[i], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-aware NMS: boxes of different classes never suppress each other."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    # float64 so that large offsets (original-pixel boxes of long strips) keep sub-pixel precision
    step = max(float(MAX_WH), float(np.abs(boxes).max()) + 1.0)
    shifted = boxes.astype(np.float64) + (classes.astype(np.float64) * step)[:, None]
    return nms(shifted, scores, iou_threshold)


def _check_confusable(confusable: tuple[Confusable, ...], nc: int) -> None:
    for c in confusable:
        if not 0 <= c.target < nc or not c.rivals or any(not 0 <= r < nc or r == c.target for r in c.rivals):
            raise ValueError(f"confusable classes must be distinct indices below {nc}, got target {c.target}, rivals {c.rivals}")


def apply_rivals(cls_scores: np.ndarray, best: np.ndarray, score: np.ndarray, confusable: tuple[Confusable, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per anchor whose best class is a target: `discount` scales its score by (1 - best rival score), then a
    target that no longer beats that rival by `margin` gives way to it. Returns new (best, score)."""
    for c in confusable:
        if c.margin <= 0 and not c.discount:
            continue
        rivals = np.asarray(c.rivals)
        rival_scores = cls_scores[:, rivals]
        rival = rival_scores.argmax(1)
        rival_score = rival_scores[np.arange(len(rival)), rival]
        is_target = best == c.target
        best, score = best.copy(), score.copy()
        if c.discount:
            score[is_target] *= 1.0 - rival_score[is_target]
        yields = is_target & (score - rival_score < c.margin) if c.margin > 0 else is_target & (score < rival_score)
        best[yields] = rivals[rival[yields]]
        score[yields] = rival_score[yields]
    return best, score


def decode_floor(classes: np.ndarray, conf: float, confusable: tuple[Confusable, ...]) -> np.ndarray:
    """Per box of `classes`, the score it needs to be decoded: `conf`, and lower for a suppressing rival
    (`suppress_ratio` < 1), so that the rule sees it whatever the decoding floor."""
    floor = np.full(len(classes), conf, np.float32)
    for c in confusable:
        if c.suppress_iou is not None and c.suppress_ratio < 1:
            rival = np.isin(classes, c.rivals)
            floor[rival] = np.minimum(floor[rival], conf * c.suppress_ratio)
    return floor


def suppress_confused(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, confusable: tuple[Confusable, ...]) -> np.ndarray:
    """Boolean keep-mask: False for a target box overlapping a rival box at IoU >= `suppress_iou` that scores more
    than `suppress_ratio` x the target's score."""
    keep = np.ones(len(scores), bool)
    for c in confusable:
        if c.suppress_iou is None:
            continue
        target, rival = np.nonzero(classes == c.target)[0], np.nonzero(np.isin(classes, c.rivals))[0]
        if len(target) == 0 or len(rival) == 0:
            continue
        for start in range(0, len(target), 512):  # bounded (512, rivals) matrices at evaluate's low floor
            t = target[start : start + 512]
            under = (box_iou(boxes[t], boxes[rival]) >= c.suppress_iou) & (scores[rival][None, :] > c.suppress_ratio * scores[t][:, None])
            keep[t[under.any(axis=1)]] = False
    return keep


def decode_yolo_raw(
    output: np.ndarray,
    *,
    conf: float,
    iou: float,
    max_det: int = MAX_DET,
    max_nms: int = MAX_NMS,
    confusable: tuple[Confusable, ...] = (),
) -> list[RawDetections]:
    """(B, 4 + nc, N) raw head output -> per image detections after class-aware NMS (and the look-alike rules)."""
    if output.ndim != 3 or output.shape[1] < 5:
        raise ValueError(f"yolo_raw output must be (B, 4 + nc, N), got {output.shape}")
    _check_confusable(confusable, output.shape[1] - 4)
    preds = np.ascontiguousarray(np.swapaxes(output, 1, 2)).astype(np.float32, copy=False)  # (B, N, 4 + nc)
    results = []
    for pred in preds:
        cls_scores = pred[:, 4:]
        best = cls_scores.argmax(1)
        score = cls_scores[np.arange(len(best)), best]
        if confusable:
            best, score = apply_rivals(cls_scores, best, score, confusable)
        mask = score > (decode_floor(best, conf, confusable) if confusable else conf)
        if not mask.any():
            results.append(_empty())
            continue
        boxes = xywh2xyxy(pred[mask, :4])
        score, best = score[mask], best[mask]
        if len(score) > max_nms:
            top = np.argsort(-score, kind="stable")[:max_nms]
            boxes, score, best = boxes[top], score[top], best[top]
        keep = batched_nms(boxes, score, best, iou)
        if confusable:
            keep = keep[suppress_confused(boxes[keep], score[keep], best[keep], confusable)]
            keep = keep[score[keep] > conf]  # rivals decoded below conf for the rule only
        keep = keep[:max_det]
        results.append(RawDetections(boxes[keep].astype(np.float32), score[keep].astype(np.float32), best[keep].astype(np.int64)))
    return results


def decode_end2end(output: np.ndarray, *, conf: float, max_det: int = MAX_DET, confusable: tuple[Confusable, ...] = ()) -> list[RawDetections]:
    """(B, N, 6) x1, y1, x2, y2, score, class -> per image detections above `conf`, in output order.

    One class per box and no other scores: of the look-alike rules only `suppress_iou` can apply."""
    if output.ndim != 3 or output.shape[2] < 6:
        raise ValueError(f"end2end output must be (B, N, 6), got {output.shape}")
    if any(c.margin > 0 or c.discount for c in confusable):
        raise ValueError("a score margin or discount needs every class's score per anchor (yolo_raw); end2end outputs one class per box")
    results = []
    for pred in output.astype(np.float32, copy=False):
        if confusable:
            pred = pred[pred[:, 4] > decode_floor(pred[:, 5].astype(np.int64), conf, confusable)]
            pred = pred[suppress_confused(pred[:, :4], pred[:, 4], pred[:, 5].astype(np.int64), confusable)]
        pred = pred[pred[:, 4] > conf]
        pred = pred[:max_det]
        results.append(RawDetections(pred[:, :4].copy(), pred[:, 4].copy(), pred[:, 5].astype(np.int64)))
    return results


def decode(
    output: np.ndarray, *, layout: str, conf: float, iou: float, max_det: int = MAX_DET, confusable: tuple[Confusable, ...] = ()
) -> list[RawDetections]:
    if layout == "yolo_raw":
        return decode_yolo_raw(output, conf=conf, iou=iou, max_det=max_det, confusable=confusable)
    if layout == "end2end":
        return decode_end2end(output, conf=conf, max_det=max_det, confusable=confusable)
    raise ValueError(f"unknown output layout {layout!r}; expected yolo_raw or end2end")
