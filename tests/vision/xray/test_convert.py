"""Conversions: gray from colour by attenuation, gray to colour, pitch rescaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xscreen.errors import ConfigError
from xscreen.vision.xray.convert import attenuation_from_colour, colour_to_gray, gray_to_colour, recolour, rescale_pitch
from xscreen.vision.xray.materials import get_material
from xscreen.vision.xray.physics import exact_transmission, transmission_model
from xscreen.vision.xray.profiles import list_profiles, load_profile
from xscreen.vision.xray.render import reference_curves, render_gray, render_pseudocolour


@pytest.fixture(scope="module")
def profile():
    return load_profile("dual-160kv")


def _scene(profile) -> dict[str, np.ndarray]:
    """A known dual-energy scene: organic, aluminium and steel strips of rising thickness, overlapping."""
    model = transmission_model(profile.beam_spec)
    a = np.zeros((96, 160), np.float32)
    b = np.zeros_like(a)
    for row, (material, max_cm) in enumerate((("water", 20.0), ("aluminium", 4.0), ("steel", 0.6))):
        ca, cb = model.basis_coefficients(material)
        rt = get_material(material).density * np.linspace(0, max_cm, 160, dtype=np.float32)
        a[row * 32 : row * 32 + 40] += ca * rt
        b[row * 32 : row * 32 + 40] += cb * rt
    return model.transmission(a, b)


def test_gray_from_colour_matches_single_energy_render(profile):
    t = _scene(profile)
    rgb = render_pseudocolour(t["low"], t["high"], profile)
    want = render_gray(t["high"], profile).astype(int)
    got = colour_to_gray(rgb, profile).astype(int)
    err = np.abs(got - want)
    assert err.mean() < 4.0 and np.percentile(err, 95) < 12, (err.mean(), np.percentile(err, 95))
    naive = rgb.mean(axis=2)  # an RGB average is what we must beat
    assert err.mean() < 0.5 * np.abs(naive - want).mean()


def test_gray_to_colour_is_white_for_air_and_darkens(profile):
    gray = np.array([[255, 200, 120, 40, 5]], np.uint8)
    rgb = gray_to_colour(gray, profile)
    assert rgb.shape == (1, 5, 3) and (rgb[0, 0] == 255).all()
    lum = rgb[0].astype(int).sum(axis=1)
    assert all(a > b for a, b in zip(lum, lum[1:]))
    assert rgb[0, 1, 0] > rgb[0, 1, 2]  # light attenuation shown as organic (orange)


def test_gray_to_colour_maps_every_level_through_the_palette_whatever_the_layout(profile):
    """The per-channel lookup gives the palette row of each level, for (H, W), three equal channels and views."""
    from xscreen.vision.xray import convert

    palette = convert._gray_palette(profile)
    gray = np.random.default_rng(3).integers(0, 256, (37, 53), dtype=np.uint8)
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.array_equal(gray_to_colour(levels, profile), palette[levels])
    for layout in (gray, np.stack([gray] * 3, axis=-1), gray[:, ::3], gray[::-1]):
        assert np.array_equal(gray_to_colour(layout, profile), palette[layout[..., 0] if layout.ndim == 3 else layout])


@pytest.mark.parametrize(("src", "dst", "shape"), [(1.0, 0.5, (200, 300)), (0.5, 1.0, (50, 75)), (0.8, 0.8, (100, 150))])
def test_rescale_pitch(src, dst, shape):
    assert rescale_pitch(np.zeros((100, 150, 3), np.uint8), src, dst).shape[:2] == shape


@pytest.mark.parametrize(("src", "dst"), [(0.0, 1.0), (1.0, -1.0)])
def test_rescale_pitch_refuses_bad_pitch(src, dst):
    with pytest.raises(ValueError):
        rescale_pitch(np.zeros((4, 4), np.uint8), src, dst)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 4), np.uint8)])
def test_colour_to_gray_refuses_non_rgb(bad, profile):
    with pytest.raises(ValueError):
        colour_to_gray(bad, profile)


def test_profiles_load_and_order_their_reference_curves():
    names = list_profiles()
    assert {"dual-160kv", "dual-140kv-cool", "dual-120kv-lowres", "single-160kv-gray"} <= set(names)
    for name in names:
        p = load_profile(name)
        if p.beam.dual_energy:
            curves = reference_curves(p)
            assert np.all(curves.ratio["water"] < curves.ratio["aluminium"])
            assert np.all(curves.ratio["aluminium"] < curves.ratio["steel"])


@pytest.mark.parametrize("name", ["no-such-scanner", "../taxonomy"])
def test_unknown_profile(name):
    with pytest.raises(ConfigError):
        load_profile(name)


def test_recolour_without_change_is_identity(profile):
    t = _scene(profile)
    rgb = render_pseudocolour(t["low"], t["high"], profile)
    assert np.array_equal(recolour(rgb, profile, 0.0), rgb)


def test_recolour_softer_beam_matches_low_kv_physics(profile):
    """A 160 kV render re-shown with the softening of 160 -> 100 kV carries the attenuation a 100 kV beam
    really gives: water barely changes, steel nearly doubles (photoelectric absorption grows with Z)."""
    soft = load_profile(Path(__file__).parents[3] / "configs/scanners-heldout/dual-100kv-fine.yaml")
    for material, cm in (("water", 5.0), ("steel", 0.3)):
        mass = {material: get_material(material).density * cm}
        hard_t = exact_transmission(profile.beam_spec, mass)
        want = -np.log(exact_transmission(soft.beam_spec, mass)["high"])
        low = np.full((8, 8), hard_t["low"], np.float32)
        high = np.full((8, 8), hard_t["high"], np.float32)
        rgb = render_pseudocolour(low, high, profile)
        got = float(np.median(attenuation_from_colour(recolour(rgb, profile, 0.12), profile)))
        before = float(np.median(attenuation_from_colour(rgb, profile)))
        assert got == pytest.approx(want, rel=0.15), (material, before, got, want)


def test_recolour_rejects_gray(profile):
    with pytest.raises(ValueError, match="RGB"):
        recolour(np.zeros((4, 4), np.uint8), profile)


def test_the_shipped_inverse_table_is_what_the_physics_builds() -> None:
    """Issue 20: colour_to_gray reads the default profile's table from the package instead of building it (4.4 s
    at every start); it must be exactly the table the current profile and rendering give. If this fails, rebuild
    it: `python -c "from xscreen.vision.xray.convert import write_inverse_table; write_inverse_table()"`."""
    from xscreen.vision.xray import convert

    profile = load_profile(None)
    with np.load(convert.shipped_table_path(profile)) as shipped:
        assert str(shipped["key"]) == convert._table_key(profile), "the profile changed since the table was built"
        table = shipped["table"]
    np.testing.assert_array_equal(table, convert.build_inverse_table(profile))
    convert._inverse_table.cache_clear()
    assert np.array_equal(convert._inverse_table(profile), table)


def test_a_profile_without_its_table_builds_one(tmp_path: Path) -> None:
    from xscreen.vision.xray import convert

    other = load_profile(None).model_copy(update={"name": "no-shipped-table"})
    assert not convert.shipped_table_path(other).exists()
    np.testing.assert_array_equal(convert._inverse_table(other), convert.build_inverse_table(load_profile(None)))


@pytest.mark.parametrize("layout", ["contiguous", "strided", "channels_reversed"])
def test_colour_to_gray_is_the_attenuation_path_exactly(profile, layout: str) -> None:
    """The table look-up gives exactly the gray of the attenuation path, on every colour and on the views
    (subsampled, BGR reversed) the engine and the quality gate pass in."""
    from xscreen.vision.xray.render import gray_from_attenuation

    levels = np.arange(256, dtype=np.uint8)
    every = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(256, -1, 3)
    rgb = {"contiguous": every, "strided": every[::3, ::5], "channels_reversed": every[..., ::-1]}[layout]
    want = gray_from_attenuation(attenuation_from_colour(rgb, profile), profile)
    got = colour_to_gray(rgb, profile)
    assert got.dtype == np.uint8 and got.shape == rgb.shape[:2]
    np.testing.assert_array_equal(got, want)
