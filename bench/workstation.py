"""The workstation's image views on a large strip: what an officer waits for when opening, zooming and
switching views (`serving.viewer.cached_view` + JPEG encoding, as `GET /v1/scans/{id}/view` runs them).

    nice -n 10 python bench/workstation.py

An 80-megapixel 16000 x 5000 colour strip (the tiled synthetic parcel of the tests, JPEG quality 90): the
first preview (decode, shrink to 2,048 a side, view, encode), then per view the preview from the cache, a
1280 x 800 region at full resolution, and an 8000 x 3000 region shrunk to 1280 wide. The palette-inversion
table colour views need is built once per process beforehand and timed on its own.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import cv2
import numpy as np

from xscreen.serving.viewer import ScanCache, cached_view, encode_jpeg
from xscreen.vision.io import read_scan
from xscreen.vision.scan import Scan


def ms(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests.serving.images import parcel_rgb
    from xscreen.vision.xray.convert import attenuations_from_colour

    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"palette-inversion table, once per process: {ms(lambda: attenuations_from_colour(np.zeros((2, 2, 3), np.uint8))):.0f} ms")
    strip = np.tile(parcel_rgb(width=1600, height=1000, seed=3), (5, 10, 1))
    data = cv2.imencode(".jpg", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    cache = ScanCache(512 * 1024**2)

    def load() -> Scan:
        return read_scan(data, max_pixels=80_000_000)

    def view(name: str, region: tuple[int, int, int, int], side: int) -> Callable[[], bytes]:
        return lambda: encode_jpeg(cached_view(cache, "strip", load, name, region, side))  # type: ignore[arg-type]  # names from VIEWS

    whole = (0, 0, 16000, 5000)
    print(f"80 MP JPEG {len(data) / 1e6:.1f} MB; decode {ms(load):.0f} ms; first preview {ms(view('display', whole, 2048)):.0f} ms (decode included)")
    print("| view | preview (cached) ms | 1280x800 at full resolution ms | 8000x3000 region at 1280 ms |\n|---|---|---|---|")
    for name in ("display", "gray", "organic", "inorganic", "high", "low"):
        times = [ms(view(name, whole, 2048)), ms(view(name, (8000, 2000, 9280, 2800), 1280)), ms(view(name, (4000, 1000, 12000, 4000), 1280))]
        print(f"| {name} | " + " | ".join(f"{t:.0f}" for t in times) + " |")


if __name__ == "__main__":
    main()
