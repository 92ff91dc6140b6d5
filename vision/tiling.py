"""Tiled inference geometry for scans much larger than the model input (long conveyor strips).

A strip is cut into overlapping windows; each window is letterboxed like a normal scan, so the model sees
objects at the scale it was trained on instead of a strip squeezed into one square. Detections from all
windows are merged in original pixels: class-aware NMS first, then a box cut by an inner window edge is
dropped when a larger box of the same class (from a window that saw the object whole) covers most of it,
which plain IoU misses when the cut part is small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xscreen.vision.detections import Detections
from xscreen.vision.postprocess import batched_nms

EDGE_PX = 2.0  # a box within this of an inner window edge counts as cut by it
CONTAINED = 0.6  # fraction of a cut box inside a larger same-class box for it to be dropped


@dataclass(frozen=True)
class Window:
    x0: int
    y0: int
    x1: int
    y1: int

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0 : self.y1, self.x0 : self.x1]


def _starts(length: int, tile: int, overlap: float) -> list[int]:
    if length <= tile:
        return [0]
    step = max(1, int(round(tile * (1.0 - overlap))))
    count = math.ceil((length - tile) / step) + 1
    starts = [min(i * step, length - tile) for i in range(count)]
    return sorted(set(starts))


def tile_windows(shape: tuple[int, int], *, tile: int | tuple[int, int], overlap: float = 0.2) -> list[Window]:
    """Windows of `tile` pixels (square, or (h, w)) covering an (H, W) image, neighbours overlapping by `overlap`."""
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    if tile_h < 1 or tile_w < 1:
        raise ValueError(f"tile must be at least 1 pixel, got {tile}")
    height, width = shape
    tile_h, tile_w = min(tile_h, height), min(tile_w, width)
    return [
        Window(x, y, x + tile_w, y + tile_h)
        for y in _starts(height, tile_h, overlap)
        for x in _starts(width, tile_w, overlap)
    ]


def merge_tiles(parts: list[Detections], windows: list[Window], *, image_shape: tuple[int, int], iou: float) -> Detections:
    """Merge per-window detections (already in original pixels) into one set for the whole image."""
    if len(parts) != len(windows):
        raise ValueError(f"{len(parts)} detection sets for {len(windows)} windows")
    height, width = image_shape
    cut_flags = []
    for det, win in zip(parts, windows):
        x = det.xyxy
        # Only inner edges cut objects; an image border is where the object really ends.
        cut = np.zeros(len(det), bool)
        if win.x0 > 0:
            cut |= x[:, 0] <= win.x0 + EDGE_PX
        if win.y0 > 0:
            cut |= x[:, 1] <= win.y0 + EDGE_PX
        if win.x1 < width:
            cut |= x[:, 2] >= win.x1 - EDGE_PX
        if win.y1 < height:
            cut |= x[:, 3] >= win.y1 - EDGE_PX
        cut_flags.append(cut)
    merged = Detections.merge(parts)
    if len(merged) == 0:
        return merged
    cut = np.concatenate(cut_flags)
    keep = batched_nms(merged.xyxy, merged.scores, merged.class_ids, iou)
    merged, cut = merged[keep], cut[keep]
    boxes = merged.xyxy
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    drop = np.zeros(len(merged), bool)
    for i in np.flatnonzero(cut):
        ix1 = np.maximum(boxes[i, 0], boxes[:, 0])
        iy1 = np.maximum(boxes[i, 1], boxes[:, 1])
        ix2 = np.minimum(boxes[i, 2], boxes[:, 2])
        iy2 = np.minimum(boxes[i, 3], boxes[:, 3])
        inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
        covered = (inter / max(areas[i], 1e-6) >= CONTAINED) & (areas > areas[i]) & (merged.class_ids == merged.class_ids[i])
        covered[i] = False
        drop[i] = bool(covered.any())
    return merged[~drop]
