"""The Scan type: validated pixels per kind, channel access, display conversions."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.vision.scan import Scan


@pytest.mark.parametrize(
    ("pixels", "kind"),
    [
        (np.zeros((4, 5, 3), np.float32), "colour"),
        (np.zeros((4, 5), np.uint8), "colour"),
        (np.zeros((4, 5, 3), np.uint8), "gray"),
        (np.zeros((4, 5), np.int32), "gray"),
        (np.zeros((4, 5, 2), np.uint8), "dual_energy"),
        (np.zeros((4, 5, 3), np.uint16), "dual_energy"),
        (np.zeros((0, 5, 3), np.uint8), "colour"),
        (np.zeros((4, 5, 3), np.uint8), "xray"),
    ],
)
def test_bad_pixels_for_kind(pixels: np.ndarray, kind: str) -> None:
    with pytest.raises(ValueError):
        Scan(pixels=pixels, kind=kind)  # type: ignore[arg-type]


def test_not_an_array() -> None:
    with pytest.raises(TypeError):
        Scan(pixels=[[1, 2]], kind="gray")  # type: ignore[arg-type]


def test_colour_and_gray_display() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    scan = Scan(pixels=rgb, kind="colour", source="a.jpg", format="jpeg")
    assert (scan.height, scan.width, scan.shape) == (4, 5, (4, 5))
    assert scan.display_rgb() is rgb and not scan.is_raw
    gray = Scan(pixels=rgb[..., 0].copy(), kind="gray")
    out = gray.display_rgb()
    assert out.shape == (4, 5, 3) and (out[..., 0] == rgb[..., 0]).all() and (out[..., 2] == rgb[..., 0]).all()
    with pytest.raises(ValueError):
        _ = scan.high


def test_dual_energy_channels_and_rendering() -> None:
    raw = np.stack([np.full((6, 7), 30000, np.uint16), np.full((6, 7), 50000, np.uint16)], axis=-1)
    scan = Scan(pixels=raw, kind="dual_energy")
    assert scan.is_raw and (scan.low == 30000).all() and (scan.high == 50000).all()
    pytest.importorskip("xscreen.vision.xray.render")
    rgb = scan.display_rgb()
    assert rgb.shape == (6, 7, 3) and rgb.dtype == np.uint8
    gray16 = Scan(pixels=raw[..., 1].copy(), kind="gray")
    assert gray16.is_raw and gray16.display_gray().dtype == np.uint8
    # air renders white, more attenuation renders darker
    air = Scan(pixels=np.full((2, 2), 65535, np.uint16), kind="gray").display_gray()
    assert (air >= gray16.display_gray()[:2, :2]).all()
