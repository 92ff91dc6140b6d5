"""Synthetic sources in a build: taken from an `xscreen synth` folder or generated on the spot."""

import json

import pytest
import yaml

from tests.factories import tiny_yolo_dataset
from xscreen.datasets.build import build_dataset
from xscreen.datasets.recipe import BuildRecipe
from xscreen.errors import DatasetError
from xscreen.vision.taxonomy import load_taxonomy


def test_generated_folder_is_resplit_by_content_hash(tmp_path):
    tx = load_taxonomy()
    tiny_yolo_dataset(tmp_path / "synth", names=tx.names, n_train=12, n_val=6, size=64)
    recipe = BuildRecipe.model_validate(
        {"name": "s", "max_side": None, "split": {"ratios": {"train": 0.5, "val": 0.5}},
         "sources": [{"name": "synth", "kind": "synthetic", "count": 15, "generated": str(tmp_path / "synth")}]}
    )
    result = build_dataset(recipe, tmp_path / "ds")
    assert sum(result.counts["synth"].values()) == 15
    assert result.counts["synth"]["train"] > 0 and result.counts["synth"]["val"] > 0
    # Labels survive the trip unchanged (taxonomy names -> the same ids).
    manifest = [json.loads(line) for line in (tmp_path / "ds" / "manifest.jsonl").read_text().splitlines()]
    for rec in manifest:
        src_label = tmp_path / "synth" / rec["origins"][0].replace("images", "labels").replace(".png", ".txt")
        out_label = tmp_path / "ds" / rec["file"].replace("images", "labels").rsplit(".", 1)[0]
        want = [float(v) for line in src_label.read_text().splitlines() for v in line.split()]
        got = [float(v) for line in (out_label.parent / (out_label.name + ".txt")).read_text().splitlines() for v in line.split()]
        assert got == pytest.approx(want, abs=1e-5)


def test_generated_folder_with_foreign_names_refused(tmp_path):
    tiny_yolo_dataset(tmp_path / "synth", names=["pistol"], n_train=2, n_val=0)
    recipe = BuildRecipe.model_validate({"name": "s", "sources": [{"name": "x", "kind": "synthetic", "count": 2, "generated": str(tmp_path / "synth")}]})
    with pytest.raises(DatasetError, match="pistol"):
        build_dataset(recipe, tmp_path / "ds")


def test_generator_called_for_a_synthetic_source(tmp_path):
    pytest.importorskip("xscreen.datasets.synth.writer")
    recipe = BuildRecipe.model_validate({"name": "s", "max_side": 320, "sources": [{"name": "synth", "kind": "synthetic", "count": 2, "seed": 5}]})
    result = build_dataset(recipe, tmp_path / "ds")
    assert sum(result.counts["synth"].values()) == 2
    data = yaml.safe_load(result.data_yaml.read_text())
    assert data["names"] == dict(enumerate(load_taxonomy().names))
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert stats["image_width"]["max"] <= 320


def _tiny_import(tmp_path, n=6):
    import cv2
    import numpy as np

    from xscreen.datasets.importers.imported import import_dataset
    from xscreen.datasets.importers.names import NameMap

    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    (src / "labels").mkdir()
    for i in range(n):
        img = np.full((120, 160, 3), 230, np.uint8)
        cv2.rectangle(img, (5 + 12 * i, 10), (50 + 12 * i, 60), (30, 90, 200), -1)
        cv2.imwrite(str(src / "images" / f"{i}.png"), img)
        (src / "labels" / f"{i}.txt").write_text("8 0.25 0.25 0.2 0.2\n")
    import_dataset("yolo", src, tmp_path / "imported", name_map=NameMap({"8": "tool"}), taxonomy=load_taxonomy())
    return tmp_path / "imported"


def test_tip_composites_keep_background_labels_and_split(tmp_path, monkeypatch):
    tip = pytest.importorskip("xscreen.datasets.synth.tip")
    calls = []

    def fake_project(rgb, *, rng, taxonomy, count=None, classes=None, **kw):
        calls.append((rgb.shape, rgb[rgb.shape[0] // 3, rgb.shape[1] // 6].tolist(), count, classes))
        out = rgb.copy()
        out[-20:, -20:] = 0
        return out, [(taxonomy.id_of("firearm"), rgb.shape[1] - 20.0, rgb.shape[0] - 20.0, float(rgb.shape[1]), float(rgb.shape[0]))]

    monkeypatch.setattr(tip, "project_threats", fake_project)
    recipe = BuildRecipe.model_validate(
        {"name": "t", "max_side": 80, "split": {"ratios": {"train": 0.5, "val": 0.5}},
         "sources": [{"name": "real", "imported": str(_tiny_import(tmp_path))},
                     {"name": "tip", "kind": "tip", "count": 8, "backgrounds": ["real"], "threats_per_scan": 2, "classes": {"firearm": 1.0}}]}
    )
    result = build_dataset(recipe, tmp_path / "ds")
    assert sum(result.counts["tip"].values()) == 8 and len(calls) == 8
    assert all(shape == (60, 80, 3) and count == 2 and classes == {"firearm": 1.0} for shape, _, count, classes in calls)
    assert any(px == [200, 90, 30] for _, px, _, _ in calls)  # RGB order: the BGR (30, 90, 200) box
    manifest = [json.loads(line) for line in (tmp_path / "ds" / "manifest.jsonl").read_text().splitlines()]
    split_of = {r["origins"][0]: r["split"] for r in manifest if r["source"] == "real"}
    tx = load_taxonomy()
    for rec in (r for r in manifest if r["source"] == "tip"):
        assert rec["split"] == split_of[rec["origins"][0].removeprefix("real:")]
        rows = [line.split() for line in (tmp_path / "ds" / rec["file"].replace("images", "labels")).with_suffix(".txt").read_text().splitlines()]
        assert sorted(int(r[0]) for r in rows) == [tx.id_of("firearm"), tx.id_of("tool")]
        tool = next(r for r in rows if int(r[0]) == tx.id_of("tool"))
        assert [float(v) for v in tool[1:]] == pytest.approx([0.25, 0.25, 0.2, 0.2], abs=1e-5)


def test_tip_only_from_chosen_splits(tmp_path, monkeypatch):
    tip = pytest.importorskip("xscreen.datasets.synth.tip")
    monkeypatch.setattr(tip, "project_threats", lambda rgb, **kw: (rgb, []))
    recipe = BuildRecipe.model_validate(
        {"name": "t", "max_side": None, "split": {"ratios": {"train": 0.5, "val": 0.5}},
         "sources": [{"name": "real", "imported": str(_tiny_import(tmp_path))},
                     {"name": "tip", "kind": "tip", "count": 5, "backgrounds": ["real"], "splits": ["train"]}]}
    )
    assert build_dataset(recipe, tmp_path / "ds").counts["tip"] == {"train": 5, "val": 0, "test": 0}


@pytest.mark.slow  # the projection builds its colour tables once per process
def test_tip_with_the_real_projection(shared_data, tmp_path):
    pytest.importorskip("xscreen.datasets.synth.tip")
    recipe = BuildRecipe.model_validate(
        {"name": "t", "max_side": 416,
         "sources": [{"name": "opixray", "format": "yolo", "src": str(shared_data / "opixray-roboflow-subset"),
                      "names": "configs/names/opixray.yaml", "max_samples": 5},
                     {"name": "tip", "kind": "tip", "count": 3, "backgrounds": ["opixray"], "threats_per_scan": 1}]}
    )
    result = build_dataset(recipe, tmp_path / "ds")
    assert sum(result.counts["tip"].values()) == 3
    labels = [p for p in (tmp_path / "ds" / "labels").rglob("tip_*.txt")]
    assert all(len(p.read_text().splitlines()) >= 1 for p in labels)
