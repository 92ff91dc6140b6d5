"""Turn a detector's output tensor into boxes, scores and class indices (model-input pixels, model class order).

Two layouts, as the model card's `output.layout` names them:
- `yolo_raw`, (B, 4 + nc, N): YOLOv8 / YOLO11 heads before NMS: cx, cy, w, h then one sigmoid score per class.
  Decoded as ultralytics' `non_max_suppression` (ultralytics/utils/nms.py, 8.4) with `multi_label=False`:
  best class per anchor, keep score > conf, at most `max_nms` by score, class-aware NMS by offsetting each
  class's boxes by `class * max_wh`, keep the first `max_det`. Vectorised numpy; NMS is greedy like
  torchvision's (suppress IoU > threshold) with one vectorised IoU row per kept box.
- `end2end`, (B, N, 6): x1, y1, x2, y2, score, class. YOLO26's NMS-free head, and also what an export with NMS
  inside the graph produces; only the score filter and `max_det` apply.
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


def decode_yolo_raw(
    output: np.ndarray,
    *,
    conf: float,
    iou: float,
    max_det: int = MAX_DET,
    max_nms: int = MAX_NMS,
) -> list[RawDetections]:
    """(B, 4 + nc, N) raw head output -> per image detections after class-aware NMS."""
    if output.ndim != 3 or output.shape[1] < 5:
        raise ValueError(f"yolo_raw output must be (B, 4 + nc, N), got {output.shape}")
    preds = np.ascontiguousarray(np.swapaxes(output, 1, 2)).astype(np.float32, copy=False)  # (B, N, 4 + nc)
    results = []
    for pred in preds:
        cls_scores = pred[:, 4:]
        best = cls_scores.argmax(1)
        score = cls_scores[np.arange(len(best)), best]
        mask = score > conf
        if not mask.any():
            results.append(_empty())
            continue
        boxes = xywh2xyxy(pred[mask, :4])
        score, best = score[mask], best[mask]
        if len(score) > max_nms:
            top = np.argsort(-score, kind="stable")[:max_nms]
            boxes, score, best = boxes[top], score[top], best[top]
        keep = batched_nms(boxes, score, best, iou)[:max_det]
        results.append(RawDetections(boxes[keep].astype(np.float32), score[keep].astype(np.float32), best[keep].astype(np.int64)))
    return results


def decode_end2end(output: np.ndarray, *, conf: float, max_det: int = MAX_DET) -> list[RawDetections]:
    """(B, N, 6) x1, y1, x2, y2, score, class -> per image detections above `conf`, in output order."""
    if output.ndim != 3 or output.shape[2] < 6:
        raise ValueError(f"end2end output must be (B, N, 6), got {output.shape}")
    results = []
    for pred in output.astype(np.float32, copy=False):
        pred = pred[pred[:, 4] > conf][:max_det]
        results.append(RawDetections(pred[:, :4].copy(), pred[:, 4].copy(), pred[:, 5].astype(np.int64)))
    return results


def decode(output: np.ndarray, *, layout: str, conf: float, iou: float, max_det: int = MAX_DET) -> list[RawDetections]:
    if layout == "yolo_raw":
        return decode_yolo_raw(output, conf=conf, iou=iou, max_det=max_det)
    if layout == "end2end":
        return decode_end2end(output, conf=conf, max_det=max_det)
    raise ValueError(f"unknown output layout {layout!r}; expected yolo_raw or end2end")
