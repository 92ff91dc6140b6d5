"""Letterbox geometry must equal ultralytics' LetterBox pixel for pixel, and boxes must map both ways."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.vision.letterbox import letterbox, letterbox_params

SHAPES = [(1038, 1725), (416, 416), (100, 3000), (3000, 100), (1, 640), (37, 53), (640, 480), (63, 64)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", [64, 416, 640])
def test_matches_ultralytics_letterbox(shape: tuple[int, int], size: int) -> None:
    augment = pytest.importorskip("ultralytics.data.augment")
    rng = np.random.default_rng(sum(shape) + size)
    image = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    theirs = augment.LetterBox((size, size), auto=False, stride=32)(image=image)
    ours, mapping = letterbox(image, size)
    assert ours.shape == theirs.shape == (size, size, 3)
    np.testing.assert_array_equal(ours, theirs)
    assert mapping.new_shape == (size, size)


@pytest.mark.parametrize("shape", SHAPES)
def test_boxes_back_to_original_match_ultralytics_scale_boxes(shape: tuple[int, int]) -> None:
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("ultralytics.utils.ops")
    mapping = letterbox_params(shape, 416)
    rng = np.random.default_rng(1)
    boxes = np.sort(rng.uniform(0, 416, size=(20, 4)).astype(np.float32).reshape(20, 2, 2), axis=1).transpose(0, 2, 1).reshape(20, 4)
    theirs = ops.scale_boxes((416, 416), torch.from_numpy(boxes.copy()), shape).numpy()
    np.testing.assert_allclose(mapping.to_original(boxes), theirs, atol=1e-3)


def test_round_trip_and_padding() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    out, mapping = letterbox(image, 64)
    assert mapping.resized_shape == (32, 64)
    assert mapping.pad_top == 16 and mapping.pad_left == 0
    assert (out[:16] == 114).all() and (out[48:] == 114).all() and (out[16:48] == 0).all()
    boxes = np.array([[10, 20, 150, 90]], np.float32)
    np.testing.assert_allclose(mapping.to_original(mapping.to_input(boxes)), boxes, atol=1e-4)


def test_no_scaleup_pads_small_images() -> None:
    image = np.full((20, 30, 3), 7, np.uint8)
    out, mapping = letterbox(image, 64, scaleup=False)
    assert mapping.resized_shape == (20, 30)
    assert (out[mapping.pad_top : mapping.pad_top + 20, mapping.pad_left : mapping.pad_left + 30] == 7).all()
    assert (out == 7).sum() == 20 * 30 * 3


def test_fills_a_batch_slot_in_place() -> None:
    batch = np.zeros((2, 64, 64, 3), np.uint8)
    image = np.full((50, 80, 3), 9, np.uint8)
    letterbox(image, 64, out=batch[1])
    assert (batch[0] == 0).all() and (batch[1] == 9).any() and (batch[1] == 114).any()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"interpolation": "bogus"}, ValueError),
        ({"out": np.zeros((10, 10, 3), np.uint8)}, ValueError),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        letterbox(np.zeros((10, 10, 3), np.uint8), 64, **kwargs)
