"""Scenes and labels: boxes enclose the visible footprint, hidden threats are dropped, 30 % are clean."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.datasets.synth.config import SynthConfig
from xscreen.datasets.synth.labels import yolo_rows
from xscreen.datasets.synth.objects import SceneObject, box
from xscreen.datasets.synth.scene import Scene, render_scene, sample_scene
from xscreen.datasets.synth.threats import THREAT_BUILDERS, knife
from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.xray.physics import transmission_model
from xscreen.vision.xray.profiles import load_profile


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


def _scene_with(objects, container_half=(150.0, 100.0, 40.0), size=(300, 200)) -> Scene:
    container = SceneObject("cardboard_box", [box("cardboard", container_half)], role="container", extent=container_half)
    return Scene(container, objects, (-150.0, -100.0, 150.0, 100.0), 1.0, "dual-160kv", *size)


def _knife_at(x: float, y: float, seed: int = 0) -> SceneObject:
    obj = knife(np.random.default_rng(seed))[0]
    obj.center = np.array([x, y, 0.0])
    return obj


def test_box_encloses_the_footprint(taxonomy):
    obj = _knife_at(0, 0)
    scene = _scene_with([obj])
    cfg = SynthConfig(render_scale=1.0)
    out = render_scene(scene, np.random.default_rng(0), config=cfg, detector=False)
    (fp,) = out.footprints
    assert fp.kept and fp.visibility > 0.95 and fp.in_frame == 1.0
    # The footprint, rebuilt independently: pixels where the knife alone attenuates.
    alone = render_scene(_scene_with([obj], container_half=(0.01, 0.01, 0.01)), np.random.default_rng(0), config=cfg, detector=False)
    a_high = -np.log(alone.raw["high"].astype(np.float64) / 65535)
    rows, cols = np.nonzero(a_high > cfg.labels.footprint_min_attenuation * 1.2)
    x0, y0, x1, y1 = fp.box
    assert x0 <= cols.min() and cols.max() < x1 and y0 <= rows.min() and rows.max() < y1
    # and is tight: within two pixels of the footprint on every side
    assert cols.min() - x0 <= 2 and x1 - cols.max() <= 3 and rows.min() - y0 <= 2 and y1 - rows.max() <= 3
    (row,) = yolo_rows(out.footprints, taxonomy, 300, 200)
    assert row.class_id == taxonomy.id_of("knife")


def test_hidden_threat_is_dropped(taxonomy):
    shield = SceneObject("lead_sheet", [box("lead", (145.0, 95.0, 5.0))])
    scene = _scene_with([shield, _knife_at(0, 0)])
    out = render_scene(scene, np.random.default_rng(0), config=SynthConfig(render_scale=1.0), detector=False)
    (fp,) = out.footprints
    assert not fp.kept and fp.visibility < 0.1 and "hidden" in fp.reason
    assert yolo_rows(out.footprints, taxonomy, 300, 200) == []


def test_cut_off_threat_is_dropped():
    scene = _scene_with([_knife_at(240, 0)])  # mostly past the right edge
    fp = render_scene(scene, np.random.default_rng(0), config=SynthConfig(render_scale=1.0), detector=False).footprints[0]
    assert fp.in_frame < 0.5 and not fp.kept and "cut off" in fp.reason


def test_at_least_30_percent_of_scenes_are_clean(taxonomy):
    cfg = SynthConfig()
    threats = [
        any(o.label is not None and taxonomy.by_name(o.label).is_threat for o in sample_scene(np.random.default_rng([7, i]), cfg, taxonomy).objects)
        for i in range(300)
    ]
    assert 0.3 <= 1 - np.mean(threats) <= 0.45


def test_every_builder_makes_labelled_taxonomy_objects(taxonomy):
    rng = np.random.default_rng(3)
    for cls, builders in THREAT_BUILDERS.items():
        taxonomy.by_name(cls)
        for build in builders.values():
            for _ in range(3):
                objs = build(rng)
                assert any(o.label == cls for o in objs)  # a parts kit may bring its magazine along
                for obj in objs:
                    assert obj.label in taxonomy.names and obj.shapes


def test_rendered_scan_has_labels_inside_the_image(taxonomy):
    cfg = SynthConfig(image_size=256, render_scale=0.5)
    transmission_model(load_profile("dual-160kv").beam_spec)
    for i in range(4):
        rng = np.random.default_rng([11, i])
        scene = sample_scene(rng, cfg, taxonomy, force_threats=True)
        out = render_scene(scene, rng, config=cfg)
        assert out.raw["high"].dtype == np.uint16
        for fp in out.footprints:
            if fp.kept:
                x0, y0, x1, y1 = fp.box
                assert 0 <= x0 < x1 <= scene.width and 0 <= y0 < y1 <= scene.height
