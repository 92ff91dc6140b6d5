"""Throwing stars and razor blades (issue 18.4): edged weapons labelled `knife`, at the attenuation their steel
gives, drawn in scenes and projections at the recipe's rate, without moving other classes' scenes."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.checkout import CONFIGS_DIR
from xscreen.datasets.synth.config import SynthConfig, load_config
from xscreen.datasets.synth.objects import SceneObject, box
from xscreen.datasets.synth.scene import Scene, pick_builder, render_scene, sample_scene
from xscreen.datasets.synth.shapes import footprint_bounds
from xscreen.datasets.synth.threats import THREAT_BUILDERS, razor_blade, throwing_star
from xscreen.datasets.synth.tip import project_threats
from xscreen.errors import ConfigError
from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.xray.physics import transmission_model
from xscreen.vision.xray.profiles import load_profile
from xscreen.vision.xray.render import render_pseudocolour

PITCH = 0.25


def _alone(obj: SceneObject):
    """The object alone in air at 0.25 mm pixels: its footprint and its own a_H map."""
    b = np.array([footprint_bounds(s) for s in obj.world_shapes() if s.sign > 0])
    x0, y0 = b[:, 0].min() - 3, b[:, 1].min() - 3
    w, h = int((b[:, 2].max() + 3 - x0) / PITCH), int((b[:, 3].max() + 3 - y0) / PITCH)
    air = SceneObject("air", [box("air", (0.01, 0.01, 0.01))], role="container", extent=(0.01, 0.01, 0.01))
    scene = Scene(air, [obj], (x0, y0, x0 + w * PITCH, y0 + h * PITCH), PITCH, "dual-160kv", w, h)
    out = render_scene(scene, np.random.default_rng(0), config=SynthConfig(render_scale=1.0), detector=False)
    return out.footprints[0], -np.log(out.raw["high"].astype(np.float64) / 65535)


def _plate_a_high(material: str, thickness_mm: float) -> float:
    """a_H of a flat plate, straight from the beam model: what the rendered plate must show."""
    from xscreen.vision.xray.materials import get_material

    model = transmission_model(load_profile("dual-160kv").beam_spec)
    ca, cb = model.basis_coefficients(material)
    areal = np.float32(get_material(material).density * thickness_mm / 10.0)
    return float(-np.log(model.transmission(np.array([[areal * ca]], np.float32), np.array([[areal * cb]], np.float32))["high"][0, 0]))


def _first(build, rng, **want):
    for _ in range(200):
        obj = build(rng)[0]
        if all(obj.info.get(k) == v for k, v in want.items()):
            return obj
    raise AssertionError(f"no {want} in 200 draws")


def test_a_single_double_edge_blade_is_faint_and_a_star_is_not():
    blade = _first(razor_blade, np.random.default_rng(0), blade="double_edge", count=1)
    star = _first(throwing_star, np.random.default_rng(0))
    for obj in (blade, star):
        assert obj.label == "knife"
        fp, a_high = _alone(obj)
        material = obj.shapes[0].material
        expected = _plate_a_high(material, obj.info["thickness_mm"])
        # the flat plate's a_H inside its outline: what the beam model gives its thickness of steel
        assert a_high.max() == pytest.approx(expected, rel=0.05)
        assert 0.7 * expected < fp.contrast <= expected * 1.01
    fp_blade, _ = _alone(blade)
    fp_star, _ = _alone(star)
    assert fp_blade.contrast < 0.06 and not (fp_blade.kept and fp_blade.contrast > 0.05)  # 0.1 mm: at the edge of visible
    assert fp_star.contrast > 0.4 and fp_star.kept  # 1.5-3 mm of steel is plain to see


def test_a_pack_of_blades_stacks_their_steel():
    rng = np.random.default_rng(1)
    pack = _first(razor_blade, rng, blade="double_edge")
    while pack.info["count"] == 1:
        pack = _first(razor_blade, rng, blade="double_edge")
    fp, a_high = _alone(pack)
    single = _plate_a_high("stainless", pack.info["thickness_mm"])
    assert 5 <= pack.info["count"] <= 10 and fp.kept
    assert a_high.max() > 0.8 * pack.info["count"] * single  # the blades lie on top of each other (beam hardening aside)


def test_the_star_has_its_points_and_its_hole():
    star = _first(throwing_star, np.random.default_rng(2), style="straight")
    _, a_high = _alone(star)
    b = np.array([footprint_bounds(s) for s in star.world_shapes() if s.sign > 0])
    row, col = int((0 - b[:, 1].min() + 3) / PITCH), int((0 - b[:, 0].min() + 3) / PITCH)  # the star's centre, world (0, 0)
    # the central hole (a few percent stay: each face is rescaled to its true area, the plate and the hole apart)
    assert a_high[row, col] < 0.05 * a_high.max() and a_high.max() > 0.4
    assert 3 <= star.info["points"] <= 8 and 60 <= star.info["diameter_mm"] <= 120


def test_knives_draw_their_builders_at_the_recipe_rate():
    cfg = SynthConfig()
    rng = np.random.default_rng(5)
    names = {b: n for n, b in THREAT_BUILDERS["knife"].items()}
    drawn = [names[pick_builder(rng, "knife", cfg)] for _ in range(2000)]
    share = {n: drawn.count(n) / len(drawn) for n in names.values()}
    assert share == pytest.approx(cfg.builder_weights["knife"], abs=0.04)
    with pytest.raises(ConfigError, match="no builder sword"):
        pick_builder(rng, "knife", SynthConfig(builder_weights={"knife": {"sword": 1.0}}))


def test_scenes_without_a_knife_are_what_they_were():
    """The builder weights change only what a knife draw makes: a scene that draws no knife is the same scene."""
    taxonomy = load_taxonomy()
    uniform = SynthConfig(builder_weights={})  # every class draws its builders uniformly, as before the weights
    same = 0
    for i in range(40):
        scene = sample_scene(np.random.default_rng([3, i]), SynthConfig(), taxonomy, force_threats=True)
        if any(o.label == "knife" for o in scene.objects):
            continue
        assert scene.to_meta() == sample_scene(np.random.default_rng([3, i]), uniform, taxonomy, force_threats=True).to_meta()
        same += 1
    assert same > 20


@pytest.mark.parametrize("path", [CONFIGS_DIR / "synth" / "default.yaml", CONFIGS_DIR / "synth" / "train640.yaml"])
def test_training_recipes_make_stars_and_blades(path):
    cfg = load_config(path)
    assert cfg.threat_weights["knife"] > 0
    assert cfg.builder_weights["knife"]["throwing_star"] > 0 and cfg.builder_weights["knife"]["razor_blade"] > 0
    taxonomy = load_taxonomy()
    made = {o.info.get("kind") for i in range(150) for o in sample_scene(np.random.default_rng([8, i]), cfg, taxonomy, force_threats=True).objects}
    assert {"throwing_star", "razor_blade"} <= made


@pytest.mark.parametrize("builder", ["throwing_star", "razor_blade"])
def test_projected_into_a_real_scan_as_knife(builder):
    profile = load_profile(None)
    model = transmission_model(profile.beam_spec)
    a = np.zeros((300, 400), np.float32)
    b = np.zeros_like(a)
    wa, wb = model.basis_coefficients("water")
    a[40:260, 40:360], b[40:260, 40:360] = wa * 4.0, wb * 4.0
    t = model.transmission(a, b)
    rgb = render_pseudocolour(t["low"], t["high"], profile)
    cfg = SynthConfig(builder_weights={"knife": {builder: 1.0}})
    taxonomy = load_taxonomy()
    boxes: list = []
    for seed in range(6):  # a lone 0.1 mm blade may be too faint to label: some draw is a pack or a cutter blade
        out, boxes = project_threats(rgb, rng=np.random.default_rng(seed), taxonomy=taxonomy, count=1, classes={"knife": 1.0}, pitch_mm=0.5, config=cfg)
        if boxes:
            break
    (c, x0, y0, x1, y1), = boxes
    assert c == taxonomy.id_of("knife")
    changed = np.abs(out.astype(int) - rgb.astype(int)).max(axis=2) > 8
    ys, xs = np.nonzero(changed)
    assert changed.any() and xs.min() >= x0 - 1 and xs.max() <= x1 and ys.min() >= y0 - 1 and ys.max() <= y1
