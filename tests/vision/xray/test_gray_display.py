"""Gray display matching: one image for every monotone display curve and either polarity of a real scan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xscreen.vision.engine import model_image
from xscreen.vision.io import read_scan
from xscreen.vision.registry import InputSpec
from xscreen.vision.scan import Scan
from xscreen.vision.xray.convert import gray_to_colour
from xscreen.vision.xray.gray_display import air_threshold, is_inverted, match_display, reference_air_level


@pytest.fixture(scope="module")
def real_grays(shared_data: Path) -> list[np.ndarray]:
    """Single-energy views of real scans, both scanners."""
    paths = sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:3] + sorted((shared_data / "opixray-roboflow-subset" / "images").glob("*.jpg"))[:2]
    return [read_scan(p.read_bytes(), filename=p.name).display_gray() for p in paths]


def _curve(gray: np.ndarray, f) -> np.ndarray:
    lut = np.clip(np.round(f(np.arange(256) / 255.0) * 255.0), 0, 255).astype(np.uint8)
    return lut[gray]


CURVES = {
    "gamma 2.2": lambda t: t**2.2,
    "gamma 0.5": lambda t: t**0.5,
    "log display": lambda t: 1.0 + np.log(np.maximum(t, 1 / 256)) / np.log(256.0),
    "s-curve": lambda t: 0.5 - 0.5 * np.cos(np.pi * t),
}


@pytest.mark.parametrize("curve", list(CURVES))
def test_a_monotone_display_curve_matches_to_the_same_image(real_grays: list[np.ndarray], curve: str) -> None:
    for gray in real_grays:
        a = match_display(gray).astype(int)
        b = match_display(_curve(gray, CURVES[curve])).astype(int)
        # Curves that merge neighbouring levels (a steep gamma) lose ranks, never the picture.
        assert np.mean(np.abs(a - b)) < 3.0 and np.mean(np.abs(a - b) > 12) < 0.02, curve


def test_inverted_polarity_is_found_and_undone(real_grays: list[np.ndarray]) -> None:
    for gray in real_grays:
        assert not is_inverted(gray)
        assert is_inverted(255 - gray)
        np.testing.assert_array_equal(match_display(255 - gray), match_display(gray))


def test_air_becomes_the_training_air_level_and_stays_the_brightest(real_grays: list[np.ndarray]) -> None:
    air = np.uint8(reference_air_level() + 0.5)
    for gray in real_grays:
        out = match_display(gray)
        assert air_threshold(gray) < 256  # these real scans all show belt around the item
        assert out[gray == gray.max()].min() == air == out.max()


def test_a_scan_without_air_is_matched_as_objects_only() -> None:
    packed = np.tile(np.arange(40, 200, dtype=np.uint8), (64, 1))  # a parcel filling the frame: no level covers 5 %
    assert air_threshold(packed) == 256
    out = match_display(packed)
    assert out.max() < reference_air_level() and np.all(np.diff(out[0].astype(int)) >= 0)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 3), np.uint8)])
def test_only_8_bit_gray_displays_are_matched(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 gray"):
        match_display(bad)


def test_the_card_decides_whether_gray_scans_are_matched(real_grays: list[np.ndarray], shared_data: Path) -> None:
    gray = real_grays[0]
    matched = InputSpec(imgsz=512, gray_display="matched")
    np.testing.assert_array_equal(model_image(Scan(gray, "gray"), matched), gray_to_colour(match_display(gray)))
    np.testing.assert_array_equal(model_image(Scan(gray, "gray"), InputSpec(imgsz=512)), gray_to_colour(gray))
    colour = read_scan(next((shared_data / "sixray-subset" / "val").glob("*.jpg")).read_bytes(), filename="a.jpg")
    np.testing.assert_array_equal(model_image(colour, matched), colour.pixels)  # colour scans are never touched

