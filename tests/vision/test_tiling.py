"""Tile windows cover the image with the asked overlap; merging removes duplicates and cut boxes."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.vision.detections import Detections
from xscreen.vision.tiling import Window, merge_tiles, tile_windows


@pytest.mark.parametrize(("shape", "tile", "overlap"), [((400, 3000), 400, 0.2), ((1000, 1000), 300, 0.5), ((50, 60), 100, 0.2), ((640, 641), 640, 0.0)])
def test_windows_cover_everything(shape: tuple[int, int], tile: int, overlap: float) -> None:
    windows = tile_windows(shape, tile=tile, overlap=overlap)
    covered = np.zeros(shape, bool)
    for w in windows:
        assert 0 <= w.x0 < w.x1 <= shape[1] and 0 <= w.y0 < w.y1 <= shape[0]
        assert (w.y1 - w.y0, w.x1 - w.x0) == (min(tile, shape[0]), min(tile, shape[1]))
        covered[w.y0 : w.y1, w.x0 : w.x1] = True
    assert covered.all()


def test_neighbours_overlap_as_asked() -> None:
    windows = tile_windows((400, 3000), tile=400, overlap=0.25)
    xs = [w.x0 for w in windows]
    assert xs[1] - xs[0] == 300 and windows[-1].x1 == 3000


@pytest.mark.parametrize(("kwargs", "error"), [({"tile": 0}, ValueError), ({"tile": 10, "overlap": 1.0}, ValueError), ({"tile": 10, "overlap": -0.1}, ValueError)])
def test_bad_tiling(kwargs: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        tile_windows((100, 100), **kwargs)


def _det(boxes: list[list[float]], scores: list[float], classes: list[int]) -> Detections:
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32), np.array(classes, np.int64))


def test_merge_removes_duplicates_and_cut_boxes() -> None:
    left, right = Window(0, 0, 400, 400), Window(300, 0, 700, 400)
    parts = [
        # whole object seen by the left window; its right half is cut by the right window's inner edge
        _det([[250, 100, 350, 200], [10, 10, 50, 50]], [0.8, 0.7], [1, 2]),
        _det([[301, 100, 350, 200], [250, 100, 350, 200], [600, 300, 650, 350]], [0.6, 0.75, 0.9], [1, 1, 0]),
    ]
    merged = merge_tiles(parts, [left, right], image_shape=(400, 700), iou=0.5)
    rows = sorted(map(tuple, np.column_stack([merged.xyxy, merged.class_ids]).tolist()))
    assert rows == [(10, 10, 50, 50, 2), (250, 100, 350, 200, 1), (600, 300, 650, 350, 0)]
    assert merged.scores.max() == pytest.approx(0.9)


def test_cut_boxes_of_other_classes_survive() -> None:
    parts = [_det([[250, 100, 350, 200]], [0.8], [1]), _det([[301, 100, 350, 200]], [0.6], [3])]
    merged = merge_tiles(parts, [Window(0, 0, 400, 400), Window(300, 0, 700, 400)], image_shape=(400, 700), iou=0.5)
    assert len(merged) == 2


def test_merge_needs_one_set_per_window() -> None:
    with pytest.raises(ValueError):
        merge_tiles([Detections.empty()], [], image_shape=(10, 10), iou=0.5)
    assert len(merge_tiles([Detections.empty()], [Window(0, 0, 10, 10)], image_shape=(10, 10), iou=0.5)) == 0
