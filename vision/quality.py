"""What a scan's pixels say about whether it can be screened at all, measured on the operator's gray view.

A model finds nothing in a scan that holds nothing (a 1x1 image, a blank or saturated frame), and nothing
can be seen where X-rays did not get through (an opaque area, the console's dense-area alarm). Without
these measures such scans were cleared. The thresholds belong to the decision policy
(`xscreen.vision.policy.ImageRules`); this module only measures.

Measured on `Scan.display_gray()`, so colour, gray, 16-bit and dual-energy scans share one scale
(dark = attenuating, bright = X-rays passed). Scans are subsampled to about a quarter megapixel: the measures
are fractions and percentiles, which a regular stride keeps (to 2 gray levels and under a percentage point on
real scans, `tests/vision/test_quality.py`), and the gate runs on every scan screened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xscreen.vision.scan import Scan

SAMPLE_PIXELS = 250_000


@dataclass(frozen=True)
class ImageMeasures:
    min_side: int  # pixels
    gray_range: float  # 99th minus 1st percentile of the display gray (0-255)
    bright_fraction: float  # share of pixels at or above `bright_level`
    opaque_fraction: float  # share of pixels at or below `opaque_level`


def measure_image(scan: Scan, *, bright_level: int, opaque_level: int) -> ImageMeasures:
    step = max(1, math.ceil(math.sqrt(scan.height * scan.width / SAMPLE_PIXELS)))
    if scan.kind == "colour":
        # colour -> gray is a per-pixel table lookup: sampling first gives the same pixels at a quarter of the
        # cost (12 ms of a 1725 x 1038 scan's screening). Rendering raw data may look at the whole image.
        sample = Scan(scan.pixels[::step, ::step], "colour").display_gray()
    else:
        sample = scan.display_gray()[::step, ::step]
    # Every measure is read off one 256-bin histogram: a pass of bincount instead of np.percentile's partition
    # and two boolean means (5 -> 1 ms a scan, the gate runs on every scan screened).
    counts = np.bincount(sample.reshape(-1), minlength=256)
    n = int(counts.sum())
    low, high = _percentiles(np.cumsum(counts), n, (1.0, 99.0))
    return ImageMeasures(
        min_side=min(scan.height, scan.width),
        gray_range=float(high - low),
        bright_fraction=int(counts[bright_level:].sum()) / n,
        opaque_fraction=int(counts[: opaque_level + 1].sum()) / n,
    )


def _percentiles(cumulative: np.ndarray, n: int, qs: tuple[float, ...]) -> list[float]:
    """np.percentile's default (linear) percentiles of n values from their histogram's cumulative counts."""
    out = []
    for q in qs:
        position = q / 100.0 * (n - 1)  # of the value in the sorted sample, interpolated between neighbours
        below = int(np.floor(position))
        lo, hi = np.searchsorted(cumulative, [below + 1, min(below + 2, n)])  # the sorted sample's values there
        out.append(float(lo + (hi - lo) * (position - below)))
    return out
