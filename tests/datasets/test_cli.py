import json

import cv2
import numpy as np
import yaml
from typer.testing import CliRunner

from tests.factories import tiny_yolo_dataset
from xscreen.cli import app
from xscreen.errors import DatasetError

runner = CliRunner()


def _yolo_source(root, labels: dict[str, str]):
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i, (stem, text) in enumerate(labels.items()):
        img = np.full((60, 90, 3), 225, np.uint8)
        cv2.circle(img, (20 + 15 * i, 30), 12, (40, 100, 200), -1)
        cv2.imwrite(str(root / "images" / f"{stem}.png"), img)
        (root / "labels" / f"{stem}.txt").write_text(text)
    return root


def test_import_json_report(tmp_path):
    src = _yolo_source(tmp_path / "src", {"a": "0 0.5 0.5 0.2 0.2\n", "b": "1 0.4 0.4 0.2 0.2\n"})
    names = tmp_path / "names.yaml"
    names.write_text("map: {0: scissors, 1: knife}\n")
    res = runner.invoke(app, ["data", "import", "--format", "yolo", "--src", str(src), "--out", str(tmp_path / "out"), "--names", str(names), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["samples"] == 2 and report["classes"] == {"knife": 1, "scissors": 1}
    assert (tmp_path / "out" / "samples.jsonl").is_file()


def test_import_unknown_names_exit_code_and_message(tmp_path):
    src = _yolo_source(tmp_path / "src", {"a": "7 0.5 0.5 0.2 0.2\n"})
    names = tmp_path / "names.yaml"
    names.write_text("map: {0: scissors}\n")
    args = ["data", "import", "--format", "yolo", "--src", str(src), "--out", str(tmp_path / "out"), "--names", str(names)]
    res = runner.invoke(app, args)
    assert res.exit_code == DatasetError.exit_code
    assert "'7' (1 boxes)" in " ".join(res.output.split())
    assert runner.invoke(app, [*args, "--ignore-unknown"]).exit_code == 0


def test_build_and_stats(tmp_path):
    src = _yolo_source(tmp_path / "src", {f"s{i}": "0 0.5 0.5 0.2 0.2\n" for i in range(5)})
    recipe = {
        "name": "cli", "max_side": None, "split": {"ratios": {"train": 1}},
        "sources": [{"name": "t", "format": "yolo", "src": str(src), "names": str(tmp_path / "n.yaml"), "licence": "test data"}],
    }
    (tmp_path / "n.yaml").write_text("map: {0: knife}\n")
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    res = runner.invoke(app, ["data", "build", "--config", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "ds"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["counts"] == {"t": {"train": 5, "val": 0, "test": 0}}
    res = runner.invoke(app, ["data", "stats", str(tmp_path / "ds"), "--json"])
    stats = json.loads(res.stdout)
    assert stats["splits"]["train"]["boxes"] == {"knife": 5} and stats["splits"]["train"]["sources"] == {"t": 5}
    assert "test data" in (tmp_path / "ds" / "README.md").read_text()


def test_stats_on_any_yolo_dataset_and_imported_set(tmp_path):
    data_yaml = tiny_yolo_dataset(tmp_path / "ds", names=["a", "b"], n_train=6, n_val=3)
    res = runner.invoke(app, ["data", "stats", str(data_yaml.parent), "--plots", str(tmp_path / "plots")])
    assert res.exit_code == 0, res.output
    assert "train" in res.output and "val" in res.output
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["box_sizes.png", "class_counts.png", "image_sizes.png"]
    res = runner.invoke(app, ["data", "stats", str(tmp_path)])
    assert res.exit_code == DatasetError.exit_code and "not a dataset" in res.output
