"""bench/gray_stations.py's test bed: every rendering is a scan stations decode as the kind it claims, the
same file twice gives the same pixels (reruns reproduce the table), and none is the project's physics in disguise."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.factories import load_bench
from xscreen.vision.io import read_scan


@pytest.fixture(scope="module")
def bench():
    return load_bench("gray_stations")


@pytest.fixture(scope="module")
def rgb(shared_data: Path) -> np.ndarray:
    bgr = cv2.imread(str(sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[0]), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[::4, ::4, ::-1])


def test_renderings_decode_as_stations_see_them_and_repeat(bench, rgb: np.ndarray) -> None:
    physics = bench.RENDERINGS["physics"][1](rgb, bench._rng("a.jpg", "physics"))
    for name, (_, render) in bench.RENDERINGS.items():
        out = render(rgb, bench._rng("a.jpg", name))
        again = render(rgb, bench._rng("a.jpg", name))
        assert np.array_equal(out, again), name
        ok, png = cv2.imencode(".png", out[..., ::-1] if out.ndim == 3 else out)
        assert ok
        scan = read_scan(png.tobytes())
        assert scan.kind == ("colour" if name == "colour" else "gray"), name
        assert scan.pixels.dtype == (np.uint16 if name == "16-bit-linear" else np.uint8), name
        if name not in ("colour", "physics", "pitch-0.6"):
            assert not np.array_equal(out, physics), name


def test_firearm_on_metal_reads_the_confusion_matrix(bench) -> None:
    # rows predicted, columns true: firearm, knife, tool, background
    labels = ["firearm", "knife", "tool", "background"]
    matrix = [[5, 2, 1, 0], [0, 3, 0, 1], [0, 0, 2, 0], [1, 1, 1, 0]]
    assert bench.firearm_on_metal({"confusion": {"labels": labels, "matrix": matrix}}) == pytest.approx(3 / 10)
    assert bench.firearm_on_metal({"confusion": {"labels": ["firearm", "background"], "matrix": [[1, 0], [0, 0]]}}) is None
