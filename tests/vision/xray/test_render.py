"""Rendering: metal reads blue, organic orange, mixed green; air white; darker with attenuation."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.vision.xray.detector import simulate_detector
from xscreen.vision.xray.materials import get_material
from xscreen.vision.xray.physics import transmission_model
from xscreen.vision.xray.profiles import load_profile
from xscreen.vision.xray.render import render_gray, render_pseudocolour


@pytest.fixture(scope="module")
def profile():
    return load_profile("dual-160kv")


def _channels(profile, material: str, cm: float, shape=(8, 8)) -> dict[str, np.ndarray]:
    model = transmission_model(profile.beam_spec)
    ca, cb = model.basis_coefficients(material)
    rt = get_material(material).density * cm
    return model.transmission(np.full(shape, ca * rt, np.float32), np.full(shape, cb * rt, np.float32))


@pytest.mark.parametrize(
    ("material", "cm", "hue"),
    [
        ("water", 4.0, "orange"),
        ("cocaine_hcl", 10.0, "orange"),
        ("textile", 10.0, "orange"),
        ("aluminium", 0.8, "green"),
        ("steel", 0.15, "blue"),
        ("brass", 0.1, "blue"),
    ],
)
def test_material_hue(profile, material, cm, hue):
    t = _channels(profile, material, cm)
    r, g, b = render_pseudocolour(t["low"], t["high"], profile)[4, 4].astype(int)
    if hue == "orange":
        assert r > g > b
    elif hue == "green":
        assert g > r and g > b
    else:
        assert b > r and b >= g - 10


def test_air_is_white_and_opaque_is_black(profile):
    ones = np.ones((4, 4), np.float32)
    assert (render_pseudocolour(ones, ones, profile) == 255).all()
    assert (render_gray(ones, profile) == 255).all()
    t = _channels(profile, "lead", 3.0)
    assert render_pseudocolour(t["low"], t["high"], profile).max() < 30


def test_uint16_and_float_inputs_agree(profile):
    t = _channels(profile, "aluminium", 1.0)
    u16 = {k: np.round(v * 65535).astype(np.uint16) for k, v in t.items()}
    a = render_pseudocolour(t["low"], t["high"], profile).astype(int)
    b = render_pseudocolour(u16["low"], u16["high"], profile).astype(int)
    assert np.abs(a - b).max() <= 2


def test_thicker_renders_darker(profile):
    lum = []
    for cm in (0.5, 2.0, 6.0, 15.0):
        t = _channels(profile, "water", cm)
        lum.append(render_pseudocolour(t["low"], t["high"], profile).astype(int).sum())
    assert all(a > b for a, b in zip(lum, lum[1:]))


def test_shape_mismatch_is_refused(profile):
    with pytest.raises(ValueError, match="differ in shape"):
        render_pseudocolour(np.ones((2, 3)), np.ones((3, 2)), profile)


def test_detector_noise_is_quantum_limited(profile):
    t = {"low": np.full((256, 256), 0.5, np.float32), "high": np.full((256, 256), 0.5, np.float32)}
    raw = simulate_detector(t, profile, profile.detector.pixel_pitch_mm, np.random.default_rng(0))
    high = raw["high"].astype(np.float64) / 65535
    assert high.mean() == pytest.approx(0.5, abs=0.01)
    expected = np.sqrt(0.5 / profile.detector.photons)
    assert high.std() == pytest.approx(expected, rel=0.4)  # plus gain stripes
    assert raw["low"].std() > raw["high"].std()  # fewer quanta in the low channel
