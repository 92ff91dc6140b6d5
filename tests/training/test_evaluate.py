"""`xscreen evaluate`: ONNX through our engine, .pt through ultralytics, class matching by name, one table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.factories import tiny_yolo_dataset
from xscreen.training.evaluate import EvaluateOptions, run
from xscreen.vision.taxonomy import load_taxonomy

pytest.importorskip("ultralytics")


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return tiny_yolo_dataset(tmp_path / "data", names=load_taxonomy().names, n_train=2, n_val=6, size=64, seed=3)


def test_registry_model_metrics_and_plots(tiny_models_dir: Path, dataset: Path, tmp_path: Path) -> None:
    summary = run(EvaluateOptions(model="tiny:1", data=[dataset], out=tmp_path / "eval", models_dir=tiny_models_dir))
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["model"] == "tiny:1" and metrics["images"] == 6
    for name, row in metrics["classes"].items():
        assert set(row) == {"precision", "recall", "AP50", "AP50-95", "instances"}
        assert row["instances"] > 0 and 0 <= row["AP50"] <= 1 and row["AP50-95"] <= row["AP50"] + 1e-9
    # the tiny set draws a few classes: the others are listed, not averaged
    missing = set(metrics["model_classes_missing_from_dataset"])
    assert missing and not missing & set(metrics["classes"])
    assert missing | set(metrics["classes"]) == set(load_taxonomy().names)
    for category in metrics["categories"].values():
        assert 0 <= category["detection_rate"] <= 1 and 0 <= category["false_alarm_rate"] <= 1
    for png in ("pr_curves.png", "confusion_matrix.png", "detection_vs_false_alarm.png"):
        assert (tmp_path / "eval" / png).stat().st_size > 1000
    assert summary.rows()[0]["dataset"] == "data"


def test_checkpoint_and_onnx_agree(tiny_models_dir: Path, dataset: Path, tmp_path: Path) -> None:
    onnx = run(EvaluateOptions(model="tiny:1", data=[dataset], out=tmp_path / "a", models_dir=tiny_models_dir)).reports[0].metrics
    pt = run(EvaluateOptions(model=str(tiny_models_dir / "tiny.pt"), data=[dataset], out=tmp_path / "b", models_dir=tiny_models_dir)).reports[0].metrics
    assert set(onnx["classes"]) == set(pt["classes"])
    for name in onnx["classes"]:
        assert onnx["classes"][name]["AP50"] == pytest.approx(pt["classes"][name]["AP50"], abs=0.05)


def test_dataset_class_unknown_to_model_is_listed(tiny_models_dir: Path, tmp_path: Path) -> None:
    names = ["firearm", "knife", "umbrella"]
    data = tiny_yolo_dataset(tmp_path / "odd", names=names, n_train=1, n_val=8, size=64, seed=1)
    metrics = run(EvaluateOptions(model="tiny:1", data=[data], out=tmp_path / "e", models_dir=tiny_models_dir)).reports[0].metrics
    assert metrics["dataset_classes_missing_from_model"] == ["umbrella"]
    assert "umbrella" not in metrics["classes"]


def test_several_datasets_and_gray_give_one_table(tiny_models_dir: Path, dataset: Path, tmp_path: Path) -> None:
    other = tiny_yolo_dataset(tmp_path / "other", names=load_taxonomy().names, n_train=1, n_val=3, size=64, seed=5)
    yaml_other = yaml.safe_load(other.read_text()) | {"name": "other-scanner"}
    other.write_text(yaml.safe_dump(yaml_other))
    summary = run(EvaluateOptions(model="tiny:1", data=[dataset, other], out=tmp_path / "x", models_dir=tiny_models_dir, gray=True))
    assert [(r["dataset"], r["view"]) for r in summary.rows()] == [("data", "as-is"), ("data", "gray"), ("other-scanner", "as-is"), ("other-scanner", "gray")]
    assert (tmp_path / "x" / "other-scanner-gray" / "metrics.json").exists()
    assert "| dataset | view |" in (tmp_path / "x" / "summary.md").read_text()


def test_relative_data_yaml_without_path_key_and_list_split(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: `--data data/default/data-sixray.yaml` (relative, no `path:`, a .txt split as the builder
    writes) looked for data/default/data/default/val-sixray.txt."""
    from xscreen.training.evaluate import load_samples

    root = dataset.parent
    (root / "val-list.txt").write_text("".join(f"./images/val/{p.name}\n" for p in sorted((root / "images/val").iterdir())))
    (root / "data-list.yaml").write_text(yaml.safe_dump({"val": "val-list.txt", "names": dict(enumerate(load_taxonomy().names))}))
    monkeypatch.chdir(root.parent)
    name, _, samples = load_samples(Path(root.name) / "data-list.yaml", "val")
    assert len(samples) == 6 and all(s.image.exists() for s in samples)
    assert name == "data-list"  # regression: every per-source view of one build was named after the folder alone
