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
    manifest = [json.loads(l) for l in (tmp_path / "ds" / "manifest.jsonl").read_text().splitlines()]
    for rec in manifest:
        src_label = tmp_path / "synth" / rec["origins"][0].replace("images", "labels").replace(".png", ".txt")
        out_label = tmp_path / "ds" / rec["file"].replace("images", "labels").rsplit(".", 1)[0]
        want = [float(v) for l in src_label.read_text().splitlines() for v in l.split()]
        got = [float(v) for l in (out_label.parent / (out_label.name + ".txt")).read_text().splitlines() for v in l.split()]
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
