"""The image-quality measures read off one histogram equal the plain numpy measures they replaced."""

from __future__ import annotations

from pathlib import Path

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


def test_the_subsample_keeps_the_measures_of_real_scans(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate measures a quarter-megapixel subsample (it runs on every scan screened): on real scans of both
    sets that moves the gray range by at most 2 levels (blank is under 8) and the fractions by under a point (saturated is 0.95, opaque 0.05)."""
    from xscreen.vision import quality
    from xscreen.vision.io import read_scan

    files = sorted((shared_data / "sixray-subset" / "train").glob("*.jpg"))[:15]
    files += sorted((shared_data / "opixray-roboflow-subset" / "images").glob("*.jpg"))[:15]
    subsampled = 0
    for path in files:
        scan = read_scan(path.read_bytes())
        sampled = measure_image(scan, bright_level=240, opaque_level=10)
        monkeypatch.setattr(quality, "SAMPLE_PIXELS", scan.height * scan.width)
        full = measure_image(scan, bright_level=240, opaque_level=10)
        monkeypatch.undo()
        subsampled += scan.height * scan.width > quality.SAMPLE_PIXELS
        assert abs(sampled.gray_range - full.gray_range) <= 2, path.name
        assert abs(sampled.bright_fraction - full.bright_fraction) < 0.01, path.name
        assert abs(sampled.opaque_fraction - full.opaque_fraction) < 0.01, path.name
    assert subsampled >= 10  # the check is of the subsample, not of scans small enough to be read whole
