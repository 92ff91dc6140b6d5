import io

import cv2
import numpy as np
import pytest
from PIL import Image

from xscreen.datasets.hygiene import clip_boxes, content_hash, inspect_image, near_duplicate_pairs, unique_boxes


@pytest.mark.parametrize(
    ("box", "kept", "clipped", "expected"),
    [
        ((10, 10, 50, 40), True, False, (10, 10, 50, 40)),
        ((-5, 10, 50, 40), True, True, (0, 10, 50, 40)),
        ((90, 80, 130, 120), True, True, (90, 80, 100, 100)),
        ((50, 40, 10, 10), True, False, (10, 10, 50, 40)),  # corners given in the wrong order
        ((120, 10, 150, 40), False, False, None),  # wholly outside: nothing left after clipping
        ((10, 10, 11, 40), False, False, None),  # 1 px wide: below the 2 px minimum
        ((10, 10, 10, 40), False, False, None),  # zero width
        ((float("nan"), 10, 50, 40), False, False, None),
    ],
)
def test_clip_boxes(box, kept, clipped, expected):
    out, keep, n_clipped, n_degenerate = clip_boxes(np.array([box], dtype=float), width=100, height=100)
    assert bool(keep[0]) is kept
    assert n_clipped == int(clipped)
    assert n_degenerate == int(not kept)
    if expected is not None:
        np.testing.assert_allclose(out[0], expected)


def test_clip_boxes_empty():
    out, keep, n_clipped, n_degenerate = clip_boxes(np.zeros((0, 4)), 10, 10)
    assert out.shape == (0, 4) and keep.shape == (0,) and (n_clipped, n_degenerate) == (0, 0)


def test_unique_boxes_drops_repeats_only_within_tolerance_and_class():
    boxes = [(4, 10.0, 10.0, 50.0, 50.0), (4, 10.3, 9.8, 50.0, 50.2), (0, 10.0, 10.0, 50.0, 50.0), (4, 12.0, 10.0, 50.0, 50.0)]
    assert unique_boxes(boxes) == [boxes[0], boxes[2], boxes[3]]


def test_near_duplicate_pairs_counts_differing_bits():
    hashes = [0b0, 0b111, 0b1, 1 << 63 | 0xFFFF]
    assert near_duplicate_pairs(hashes, max_bits=3) == [(0, 1, 3), (0, 2, 1), (1, 2, 2)]
    assert near_duplicate_pairs(hashes, max_bits=0) == []
    assert near_duplicate_pairs([5]) == []


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def test_inspect_image_sizes_and_hashes_a_scan_and_its_reencode_alike():
    img = np.full((120, 200, 3), 235, np.uint8)  # a bag-like scene: large shapes, as pHash sees scans
    cv2.rectangle(img, (20, 15), (120, 100), (40, 120, 200), -1)
    cv2.circle(img, (150, 60), 30, (160, 60, 20), -1)
    cv2.line(img, (0, 110), (199, 5), (10, 10, 10), 6)
    png = _png(img)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=80)
    w, h, ph = inspect_image(png)
    w2, h2, ph2 = inspect_image(buf.getvalue())
    assert (w, h) == (w2, h2) == (200, 120)
    assert bin(ph ^ ph2).count("1") <= 4
    assert content_hash(png) != content_hash(buf.getvalue())


@pytest.mark.parametrize("data", [b"", b"not an image", _png(np.zeros((8, 8, 3), np.uint8))[:40]])
def test_inspect_image_returns_none_for_undecodable_bytes(data):
    assert inspect_image(data) is None
