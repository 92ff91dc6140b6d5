"""The workstation's image views: a region of a stored scan, downscaled to what the screen shows, in one of
the views X-ray consoles give their operators (`/v1/scans/{id}/view`, the page at `/review`).

Large strips stay fast because the page asks for what it displays: first the whole scan at about 2,000
pixels a side (the preview), then, once zoomed past the preview's resolution, the visible region at
screen resolution. Each request crops, then resizes (area averaging), then computes the view, so the cost
follows the pixels sent, not the scan's size; the decoded scan is kept in a small cache (`ScanCache`) so an
80-megapixel strip is decoded once per zooming session, not per request.

Views (which a scan kind allows: `available_views`), from the dual-energy physics the renderer uses
(`xscreen.vision.xray`, `xscreen.vision.composition`):
- `display`: what the station's console shows (pseudo-colour, or gray);
- `gray`: the single-energy view (colour traced back to its high-energy attenuation a_H);
- `organic` / `inorganic`: only matter of material class z < 0.5 (organic, orange) or >= 0.5 (mixed and
  metal) keeps its colour; the rest fades to light gray (colour and dual-energy scans);
- `high`: high penetration, a_H at half strength, so dense matter turns light enough to see into;
- `low`: low penetration, the low-energy attenuation a_L, where thin organic matter is strongest (dual-energy
  channels, or estimated from the palette for colour scans). A gray scan has one energy: no `low`, no materials.
Brightness, contrast and inversion are the page's (canvas filters on these pixels).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Literal

import cv2
import numpy as np

from xscreen.vision.composition import ORGANIC_BELOW_Z
from xscreen.vision.scan import Scan, ScanKind

View = Literal["display", "gray", "organic", "inorganic", "high", "low"]
VIEWS: dict[ScanKind, tuple[View, ...]] = {
    "colour": ("display", "gray", "organic", "inorganic", "high", "low"),
    "dual_energy": ("display", "gray", "organic", "inorganic", "high", "low"),
    "gray": ("display", "high"),
}
MAX_SIDE = 4096  # the largest region side the service sends (a 4K screen)
HIGH_PENETRATION = 0.5  # a_H scale of the high-penetration view
FADED = 0.2  # how much of its darkness a stripped material keeps


def available_views(kind: str) -> tuple[View, ...]:
    return VIEWS.get(kind, ("display",))  # type: ignore[call-overload]  # an unknown stored kind shows as sent


class ScanCache:
    """Decoded scans by key (the image's sha256; its previews add their size), least recently used out first, at
    most `max_bytes` of pixels in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Scan] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Scan]) -> Scan:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        scan = load()  # outside the lock: another view of another scan need not wait for this decode
        with self._lock:
            self._items[key] = scan
            while self._items and sum(s.pixels.nbytes for s in self._items.values()) > self.max_bytes:
                self._items.popitem(last=False)
        return scan


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) of a width x height region shown at most max_side a side, never enlarged."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _gray(a: np.ndarray) -> np.ndarray:
    from xscreen.vision.xray.render import gray_from_attenuation

    return gray_from_attenuation(a)


def _strip(display: np.ndarray, keep: np.ndarray) -> np.ndarray:
    gray = display.mean(axis=2, keepdims=True)
    faded = 255.0 - (255.0 - gray) * FADED
    return np.where(keep[..., None], display, faded.repeat(3, axis=2)).astype(np.uint8)


def cached_view(cache: ScanCache, sha256: str, load: Callable[[], Scan], view: View, region: tuple[int, int, int, int], max_side: int) -> np.ndarray:
    """`render_view` through the cache. A request for the whole scan (the page's preview) reads a cached
    downscaled copy: shrinking an 80-megapixel strip took 0.8 s, and the officer switches views on it often."""
    scan = cache.get(sha256, load)
    size = fit_size(scan.width, scan.height, min(max_side, MAX_SIDE))
    if region == (0, 0, scan.width, scan.height) and size != (scan.width, scan.height):
        small = cache.get(f"{sha256}@{size[0]}x{size[1]}", lambda: Scan(cv2.resize(scan.pixels, size, interpolation=cv2.INTER_AREA), scan.kind))
        return render_view(small, view, (0, 0, small.width, small.height), max_side)
    return render_view(scan, view, region, max_side)


def render_view(scan: Scan, view: View, region: tuple[int, int, int, int], max_side: int) -> np.ndarray:
    """The `view` of `region` (x0, y0, x1, y1, clipped to the scan) at most `max_side` a side: RGB or gray uint8."""
    if view not in available_views(scan.kind):
        raise ValueError(f"a {scan.kind} scan has no {view} view (it has {', '.join(available_views(scan.kind))})")
    x0, y0 = max(0, region[0]), max(0, region[1])
    x1, y1 = min(scan.width, region[2]), min(scan.height, region[3])
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"region {region} lies outside the {scan.width}x{scan.height} scan")
    size = fit_size(x1 - x0, y1 - y0, min(max_side, MAX_SIDE))
    crop = scan.pixels[y0:y1, x0:x1]
    small = crop if size == (x1 - x0, y1 - y0) else cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    part = Scan(np.ascontiguousarray(small), scan.kind)
    if view == "display":
        return part.display_rgb()
    if scan.kind == "gray":  # view == "high": a_H of the single energy, at half strength
        from xscreen.vision.xray.render import attenuation, attenuation_from_gray

        if part.pixels.dtype == np.uint8:  # a display image: 255 * T ** gray_gamma, inverted
            a_high = attenuation_from_gray(part.pixels)
        else:
            a_high = attenuation(part.pixels)
        return _gray(a_high * HIGH_PENETRATION)
    if scan.kind == "colour":
        from xscreen.vision.xray.convert import attenuations_from_colour, material_from_colour

        a_low, a_high = attenuations_from_colour(part.pixels)
        z = material_from_colour(part.pixels)[1] if view in ("organic", "inorganic") else None
    else:
        from xscreen.vision.xray.render import attenuation, material_from_channels

        a_low, a_high = attenuation(part.low), attenuation(part.high)
        z = material_from_channels(part.low, part.high)[1] if view in ("organic", "inorganic") else None
    if view == "gray":
        return _gray(a_high)
    if view == "high":
        return _gray(a_high * HIGH_PENETRATION)
    if view == "low":
        return _gray(a_low)
    assert z is not None
    organic = z < ORGANIC_BELOW_Z
    return _strip(part.display_rgb(), organic if view == "organic" else ~organic)


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    array = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(".jpg", array, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
