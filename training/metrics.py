"""Detection and screening metrics in plain numpy. Knows nothing about models or files.

- Box level (per class): precision and recall at the operating threshold, AP at IoU 0.5 and AP averaged
  over IoU 0.50:0.95, with COCO's 101-point interpolated precision envelope.
- Image level (per threat category), what a screening officer sees: detection rate (share of scans holding
  the threat that are flagged) and false-alarm rate (share of scans without it that are flagged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from xscreen.vision.postprocess import box_iou  # the one IoU matrix (decoding's look-alike rule uses it too)

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


@dataclass
class ImageResult:
    """One image: ground truth and predictions, class ids in one shared (taxonomy) space."""

    gt_boxes: np.ndarray
    gt_classes: np.ndarray
    pred_boxes: np.ndarray
    pred_scores: np.ndarray
    pred_classes: np.ndarray
    kind: str | None = None  # the scan's kind (colour, gray, dual_energy): operating thresholds may depend on it

    @cached_property
    def true_positives(self) -> np.ndarray:
        """`match_predictions(self)`, computed once: every class's metrics read the same matrix."""
        return match_predictions(self)


def match_predictions(image: ImageResult) -> np.ndarray:
    """(n_pred, n_iou) bool: is each prediction a true positive at each IoU threshold.

    Greedy by score within each class, each ground-truth box matched at most once per threshold (COCO).
    """
    tp = np.zeros((len(image.pred_scores), len(IOU_THRESHOLDS)), bool)
    if len(image.pred_scores) == 0 or len(image.gt_classes) == 0:
        return tp
    iou = box_iou(image.pred_boxes, image.gt_boxes)
    same_class = image.pred_classes[:, None] == image.gt_classes[None, :]
    iou = np.where(same_class, iou, 0.0)
    order = np.argsort(-image.pred_scores, kind="stable")
    for t, threshold in enumerate(IOU_THRESHOLDS):
        taken = np.zeros(len(image.gt_classes), bool)
        for i in order:
            candidates = np.where(~taken & (iou[i] >= threshold), iou[i], -1.0)
            j = int(candidates.argmax())
            if candidates[j] >= threshold:
                taken[j] = True
                tp[i, t] = True
    return tp


def average_precision(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> np.ndarray:
    """AP per IoU threshold from the TP matrix of all predictions of one class (COCO 101-point)."""
    if n_gt == 0:
        return np.full(tp.shape[1], np.nan)
    if len(scores) == 0:
        return np.zeros(tp.shape[1])
    order = np.argsort(-scores, kind="stable")
    tp = tp[order]
    tpc = np.cumsum(tp, axis=0)
    fpc = np.cumsum(~tp, axis=0)
    recall = tpc / n_gt
    precision = tpc / np.maximum(tpc + fpc, 1e-9)
    aps = np.zeros(tp.shape[1])
    for t in range(tp.shape[1]):
        envelope = np.maximum.accumulate(precision[::-1, t])[::-1]
        idx = np.searchsorted(recall[:, t], RECALL_POINTS, side="left")
        sampled = np.where(idx < len(envelope), envelope[np.minimum(idx, len(envelope) - 1)], 0.0)
        aps[t] = sampled.mean()
    return aps


@dataclass
class ClassMetrics:
    precision: float
    recall: float
    ap50: float
    ap50_95: float
    instances: int
    pr_curve: tuple[np.ndarray, np.ndarray]  # recall, precision at IoU 0.5 (for plots)


def class_metrics(images: list[ImageResult], class_id: int, operating_conf: float | Callable[[str | None], float]) -> ClassMetrics:
    """AP over all scores; precision and recall at the operating threshold (a number, or one per scan kind)."""
    conf_for = operating_conf if callable(operating_conf) else (lambda _kind: operating_conf)
    tps, scores, ops, n_gt = [], [], [], 0
    for image in images:
        keep = image.pred_classes == class_id
        tps.append(image.true_positives[keep])
        scores.append(image.pred_scores[keep])
        ops.append(np.full(int(keep.sum()), conf_for(image.kind)))
        n_gt += int((image.gt_classes == class_id).sum())
    tp = np.concatenate(tps) if tps else np.zeros((0, len(IOU_THRESHOLDS)), bool)
    sc = np.concatenate(scores) if scores else np.zeros(0)
    aps = average_precision(tp, sc, n_gt)
    at_op = sc >= (np.concatenate(ops) if ops else np.zeros(0))
    n_tp = int(tp[at_op, 0].sum())
    precision = n_tp / max(int(at_op.sum()), 1)
    recall = n_tp / n_gt if n_gt else float("nan")
    order = np.argsort(-sc, kind="stable")
    tpc = np.cumsum(tp[order, 0])
    curve = (tpc / max(n_gt, 1), tpc / np.arange(1, len(tpc) + 1)) if len(tpc) else (np.zeros(0), np.zeros(0))
    return ClassMetrics(precision, recall, float(aps[0]), float(np.nanmean(aps)) if n_gt else float("nan"), n_gt, curve)


@dataclass
class ScreeningMetrics:
    """Image-level flagging of one threat category."""

    scans_with_threat: int
    scans_without_threat: int
    detection_rate: float
    false_alarm_rate: float
    threshold_for_90: float | None
    false_alarm_at_90: float | None
    threshold_for_95: float | None
    false_alarm_at_95: float | None
    curve: tuple[np.ndarray, np.ndarray, np.ndarray]  # thresholds, detection rate, false-alarm rate

    def detection_at(self, false_alarm: float) -> float:
        """The highest detection rate any score threshold reaches with a false-alarm rate of at most `false_alarm`."""
        _, drs, fars = self.curve
        ok = fars <= false_alarm + 1e-12
        return float(drs[ok].max()) if ok.any() else 0.0


def screening_metrics(holds: np.ndarray, image_scores: np.ndarray, operating_flags: np.ndarray) -> ScreeningMetrics:
    """`holds`: does each scan hold the threat; `image_scores`: the scan's highest score for it (0 if none);
    `operating_flags`: is the scan flagged at the model's operating thresholds."""
    holds = holds.astype(bool)
    n_pos, n_neg = int(holds.sum()), int((~holds).sum())
    dr = float((operating_flags & holds).sum() / n_pos) if n_pos else float("nan")
    far = float((operating_flags & ~holds).sum() / n_neg) if n_neg else float("nan")
    thresholds = np.unique(np.concatenate([image_scores[image_scores > 0], [1.0]]))[::-1]
    drs = np.array([((image_scores >= t) & holds).sum() / max(n_pos, 1) for t in thresholds])
    fars = np.array([((image_scores >= t) & ~holds).sum() / max(n_neg, 1) for t in thresholds])

    def at(target: float) -> tuple[float | None, float | None]:
        reached = np.nonzero(drs >= target)[0]
        if not n_pos or len(reached) == 0:
            return None, None
        i = reached[0]  # the highest threshold that reaches the target: fewest false alarms
        return float(thresholds[i]), float(fars[i])

    t90, f90 = at(0.90)
    t95, f95 = at(0.95)
    return ScreeningMetrics(n_pos, n_neg, dr, far, t90, f90, t95, f95, (thresholds, drs, fars))
