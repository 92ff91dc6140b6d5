"""Threat image projection: labels land on the projected threat, untouched pixels stay untouched."""

from __future__ import annotations

import numpy as np
import pytest

from xscreen.datasets.synth.tip import project_threats
from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.xray.physics import transmission_model
from xscreen.vision.xray.profiles import load_profile
from xscreen.vision.xray.render import render_gray, render_pseudocolour


@pytest.fixture(scope="module")
def background():
    """A 'real' scan: a water-filled bag (organic) with an aluminium bar, rendered by the display map."""
    profile = load_profile(None)
    model = transmission_model(profile.beam_spec)
    a = np.zeros((300, 400), np.float32)
    b = np.zeros_like(a)
    wa, wb = model.basis_coefficients("water")
    a[40:260, 40:360] += wa * 6.0
    b[40:260, 40:360] += wb * 6.0
    aa, ab = model.basis_coefficients("aluminium")
    a[140:160, 60:340] += aa * 2.7 * 0.5
    b[140:160, 60:340] += ab * 2.7 * 0.5
    t = model.transmission(a, b)
    return render_pseudocolour(t["low"], t["high"], profile), render_gray(t["high"], profile)


@pytest.mark.parametrize("cls", ["firearm", "knife", "magazine", "drug_bulk"])
def test_label_covers_the_change_and_nothing_else_moves(background, cls):
    rgb, _ = background
    tax = load_taxonomy()
    out, boxes = project_threats(rgb, rng=np.random.default_rng(4), taxonomy=tax, count=1, classes={cls: 1.0}, pitch_mm=1.0)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    changed = np.abs(out.astype(int) - rgb.astype(int)).max(axis=2) > 8
    assert changed.any()
    (c, x0, y0, x1, y1), = boxes
    assert c == tax.id_of(cls)
    assert 0 <= x0 < x1 <= rgb.shape[1] and 0 <= y0 < y1 <= rgb.shape[0]
    ys, xs = np.nonzero(changed)
    # every clearly changed pixel lies in the box (1 px tolerance for interpolation at the edge)
    assert xs.min() >= x0 - 1 and xs.max() <= x1 and ys.min() >= y0 - 1 and ys.max() <= y1
    # the threat darkens the scan where it is
    assert out[changed].astype(int).sum() < rgb[changed].astype(int).sum()


def test_deterministic_and_gray(background):
    rgb, gray = background
    tax = load_taxonomy()
    a = project_threats(rgb, rng=np.random.default_rng(9), taxonomy=tax)
    b = project_threats(rgb, rng=np.random.default_rng(9), taxonomy=tax)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    g, boxes = project_threats(gray, rng=np.random.default_rng(9), taxonomy=tax, count=2)
    assert g.ndim == 2 and g.shape == gray.shape and g.dtype == np.uint8
    assert all(0 <= x0 < x1 <= gray.shape[1] for _, x0, _, x1, _ in boxes)


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8), np.float32)])
def test_refuses_non_images(bad):
    with pytest.raises(ValueError):
        project_threats(bad, rng=np.random.default_rng(0), taxonomy=load_taxonomy())


def test_unknown_class_is_refused(background):
    with pytest.raises(KeyError):
        project_threats(background[0], rng=np.random.default_rng(0), taxonomy=load_taxonomy(), classes={"bazooka": 1.0})


def test_tip_dataset_keeps_background_labels_and_splits(tmp_path, background):
    import cv2
    import yaml

    from xscreen.datasets.synth.tip import tip_dataset

    rgb, _ = background
    bg = tmp_path / "bg"
    for split in ("train", "val"):
        (bg / "images" / split).mkdir(parents=True)
        (bg / "labels" / split).mkdir(parents=True)
        cv2.imwrite(str(bg / "images" / split / "a.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        (bg / "labels" / split / "a.txt").write_text("1 0.5 0.5 0.2 0.1\n")  # class 1 of the set = "knife"
    (bg / "data.yaml").write_text(yaml.safe_dump({"names": {0: "firearm", 1: "knife"}}))
    tax = load_taxonomy()
    data_yaml = tip_dataset(bg, tmp_path / "out", count=4, seed=3, pitch_mm=1.0, progress=False)
    data = yaml.safe_load(data_yaml.read_text())
    assert data["names"] == dict(enumerate(tax.names))
    assert data["val"] in ("images/val", "images/train")
    labels = sorted((tmp_path / "out" / "labels").rglob("*.txt"))
    assert len(labels) == 4
    for lab in labels:
        rows = lab.read_text().splitlines()
        assert rows[0].split()[0] == str(tax.id_of("knife"))  # background label renumbered into the taxonomy
    again = tip_dataset(bg, tmp_path / "again", count=4, seed=3, pitch_mm=1.0, progress=False)
    for img in (tmp_path / "out" / "images").rglob("*.jpg"):
        twin = again.parent / img.relative_to(tmp_path / "out")
        assert twin.read_bytes() == img.read_bytes()
