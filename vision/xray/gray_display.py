"""Bring a single-energy (gray) scan's display to the levels the model was trained on.

Gray scanners differ in the display curve they put between transmission and gray level: linear, gamma, log
(attenuation), a vendor's own curve, and some show dense matter bright (inverted polarity). The model learnt
one display: the physics gray of the training scanners (`convert.colour_to_gray`). A colour model reading a
gray scan through `gray_to_colour` also guesses materials from absolute levels, so a different curve
misleads it twice (`bench/gray_stations.py`: firearm AP50 0.89 on a luminance display, 0.04 on a log one).

`match_display` removes the curve: every monotone display of the same scan has the same ranks, so mapping the
scan's own level distribution onto the training scans' (quantile matching) gives one image whatever the curve.
Air is matched on its own (to the training air level) and the rest, the objects, to the training objects.
Polarity comes first: a transmission display shows air, and the belt around the item, brightest, so a frame
darker than the scan's mean means dense-is-bright. What matching cannot undo: a different detector
physics (spectrum, scatter), blur and noise; and a scan whose content differs from the training mix gets its
levels stretched towards that mix (measured in docs/model.md, "Gray display matching").

The reference (`configs/display/gray-reference.yaml`: the air level and the mean quantile function of the object
pixels of the physics gray of real training scans) is written by `scripts/gray_reference.py`.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import yaml

from xscreen.resources import PACKAGE_CONFIGS

REFERENCE_FILE = PACKAGE_CONFIGS / "display" / "gray-reference.yaml"
FRAME = 0.04  # share of each side read as the scan's frame (belt and air) for the polarity test
AIR_LEVEL_SHARE = 0.01  # a level at the bright end with at least this share of the pixels is part of the air peak
AIR_SHARE = 0.05  # the brightest levels are air only when they cover this much of the scan


@lru_cache(maxsize=1)
def _reference() -> tuple[float, np.ndarray]:
    spec = yaml.safe_load(REFERENCE_FILE.read_text())
    q = np.asarray(spec["object_quantiles"], np.float32)
    if q.ndim != 1 or len(q) < 2 or np.any(np.diff(q) < 0):
        raise ValueError(f"{REFERENCE_FILE}: object_quantiles must be a rising list")
    return float(spec["air_level"]), q


def reference_air_level() -> float:
    """The gray level of air (belt, empty tray) in the training display."""
    return _reference()[0]


def reference_quantiles() -> np.ndarray:
    """(Q,) float32 gray levels at evenly spaced quantiles 0..1 of the training scans' object (non-air) pixels."""
    return _reference()[1]


def is_inverted(gray: np.ndarray) -> bool:
    """True when the scan shows dense matter bright: its frame is darker than the scan's mean level (the mean, not
    the median: on a mostly empty scan the median is the air level itself)."""
    h, w = gray.shape
    dy, dx = max(1, int(h * FRAME)), max(1, int(w * FRAME))
    frame = np.concatenate([gray[:dy].ravel(), gray[-dy:].ravel(), gray[:, :dx].ravel(), gray[:, -dx:].ravel()])
    return bool(frame.mean() < gray.mean())


def air_threshold(gray: np.ndarray) -> int:
    """The lowest level read as air in a transmission display (256: no air).

    Air is the run of well-filled levels at the bright end: walking down from the brightest occupied level,
    each level holding at least AIR_LEVEL_SHARE of the pixels (detector and JPEG noise spread air over a few
    levels; objects spread thinly over many). Counts and order only, no level distances, so any monotone
    display curve finds the same pixels. The run is air only when it covers AIR_SHARE of the scan: a parcel
    filling the whole frame has none.
    """
    hist = np.bincount(gray.ravel(), minlength=256) / gray.size
    level = int(np.flatnonzero(hist)[-1])
    while level > 0 and (hist[level] >= AIR_LEVEL_SHARE or hist[level] == 0):
        level -= 1
    level += 1
    return level if hist[level:].sum() >= AIR_SHARE else 256


def match_display(gray: np.ndarray) -> np.ndarray:
    """(H, W) uint8 gray -> (H, W) uint8 in the training display: polarity fixed, air set to the training air
    level, and the object pixels' levels quantile-matched to the training scans' object pixels.

    Air is matched apart from the objects because its share is the scan's packing, not its display: matching
    all pixels at once made a nearly empty scan's objects darker than a full one's.
    """
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"expected (H, W) uint8 gray, got {gray.shape} {gray.dtype}")
    if is_inverted(gray):
        gray = 255 - gray
    air_level, ref = _reference()
    air = air_threshold(gray)
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    hist[air:] = 0.0
    objects = hist.sum()
    lut = np.full(256, air_level)
    if objects:
        cdf = np.cumsum(hist) / objects
        lut[:air] = np.interp(cdf[:air], np.linspace(0.0, 1.0, len(ref)), ref)
    return cv2.LUT(gray, np.clip(lut + 0.5, 0, 255).astype(np.uint8))  # the table applied to every pixel
