"""Annotated scans: boxes drawn in the category colour, inputs untouched, PNG bytes that decode."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xscreen.vision.detections import Detections
from xscreen.vision.draw import CATEGORY_COLOURS, annotated_png, draw_detections
from xscreen.vision.taxonomy import load_taxonomy


def _dets() -> Detections:
    taxonomy = load_taxonomy()
    return Detections(
        np.array([[10, 20, 110, 90], [0, 0, 30, 30]], np.float32),
        np.array([0.9, 0.4], np.float32),
        np.array([taxonomy.id_of("firearm"), taxonomy.id_of("drug_bulk")], np.int64),
    )


def test_boxes_in_category_colours_and_input_untouched() -> None:
    image = np.full((200, 300, 3), 40, np.uint8)
    out = draw_detections(image, _dets())
    assert (image == 40).all()
    assert tuple(out[55, 10]) == CATEGORY_COLOURS["firearms"]  # left edge of the firearm box
    assert (out[150:, 200:] == 40).all()  # far from every box


def test_gray_input_and_no_detections() -> None:
    out = draw_detections(np.full((50, 60), 200, np.uint8), Detections.empty())
    assert out.shape == (50, 60, 3) and (out == 200).all()


def test_png_round_trip() -> None:
    image = np.full((120, 160, 3), 90, np.uint8)
    data = annotated_png(image, _dets())
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), draw_detections(image, _dets()))


@pytest.mark.parametrize("image", [np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32)])
def test_bad_images(image: np.ndarray) -> None:
    with pytest.raises(ValueError):
        draw_detections(image, _dets())
