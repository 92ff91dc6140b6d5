"""The image-quality measures read off one histogram equal the plain numpy measures they replaced."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.vision.quality import measure_image
from xscreen.vision.scan import Scan


def _plain(gray: np.ndarray, *, bright_level: int, opaque_level: int) -> tuple[float, float, float]:
    low, high = np.percentile(gray, [1, 99])
    return float(high - low), float((gray >= bright_level).mean()), float((gray <= opaque_level).mean())


@pytest.mark.parametrize("seed", range(6))
def test_measures_equal_numpy_percentile_and_means(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 300)), int(rng.integers(1, 300))
    # Skewed and clumped levels, so percentiles fall between two different neighbours as well as on ties.
    gray = np.clip(rng.gamma(2.0, 40.0, (h, w)), 0, 255).astype(np.uint8)
    if seed % 2:
        gray[: h // 3] = 255
    m = measure_image(Scan(gray, "gray"), bright_level=240, opaque_level=10)
    want = _plain(gray, bright_level=240, opaque_level=10)
    assert m.min_side == min(h, w)
    assert m.gray_range == pytest.approx(want[0], abs=1e-9)
    assert (m.bright_fraction, m.opaque_fraction) == (want[1], want[2])


def test_colour_measures_are_those_of_its_gray_view() -> None:
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    scan = Scan(rgb, "colour")
    m = measure_image(scan, bright_level=200, opaque_level=40)
    want = _plain(scan.display_gray(), bright_level=200, opaque_level=40)
    assert m.gray_range == pytest.approx(want[0], abs=1e-9)
    assert (m.bright_fraction, m.opaque_fraction) == (want[1], want[2])
