"""`xscreen evaluate`: ONNX through our engine, .pt through ultralytics, class matching by name, one table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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
    confusion = metrics["confusion"]
    matrix = np.array(confusion["matrix"])
    assert confusion["labels"] == [*metrics["classes"], "background"] and matrix.shape == (len(confusion["labels"]),) * 2
    # every true instance is either found as some class or missed (the background row)
    assert matrix.sum(axis=0)[:-1].tolist() == [row["instances"] for row in metrics["classes"].values()]
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


SIXRAY_NAMES = {"Gun": "firearm", "Knife": "knife", "Wrench": "tool"}  # configs/names/sixray.yaml


def _gray_pngs(shared_data: Path, root: Path, n: int) -> Path:
    """A YOLO set of `n` real SIXray validation scans saved as 8-bit gray PNGs (luminance), with their boxes."""
    import xml.etree.ElementTree as ET

    import cv2

    names = load_taxonomy().names
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    for jpg in sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:n]:
        gray = cv2.imread(str(jpg), cv2.IMREAD_GRAYSCALE)
        scale = 480 / max(gray.shape)  # small files, a quick test
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = gray.shape
        cv2.imwrite(str(root / "images" / "val" / f"{jpg.stem}.png"), gray)
        lines = []
        for obj in ET.parse(shared_data / "sixray-subset" / "Annotation" / f"{jpg.stem}.xml").iter("object"):
            x0, y0, x1, y1 = (float(obj.findtext(f"bndbox/{k}")) * scale for k in ("xmin", "ymin", "xmax", "ymax"))
            cls = names.index(SIXRAY_NAMES[obj.findtext("name")])
            lines.append(f"{cls} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}\n")
        (root / "labels" / "val" / f"{jpg.stem}.txt").write_text("".join(lines))
    data_yaml = root / "data.yaml"
    data_yaml.write_text(yaml.safe_dump({"path": str(root), "val": "images/val", "names": dict(enumerate(names))}))
    return data_yaml


SHIPPED_MODELS = Path(__file__).resolve().parents[2] / "models"  # the shipped model finds guns in real scans


@pytest.mark.parametrize("model", ["xscreen-yolo11n:7"])  # per-kind and per-class thresholds, matched gray display, a postprocess rule
def test_evaluate_and_predict_give_the_same_boxes_on_gray_pngs(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    """Regression: evaluate read files with cv2.IMREAD_COLOR and called them colour, so it scored gray PNGs as
    three equal channels while stations decoded them as `gray` and converted them: a figure no station got."""
    from typer.testing import CliRunner

    from xscreen.cli import app
    from xscreen.settings import get_settings
    from xscreen.vision.registry import resolve_model

    data = _gray_pngs(shared_data, tmp_path / "gray", n=6)
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(SHIPPED_MODELS))
    get_settings.cache_clear()
    runner = CliRunner()
    evaluated = runner.invoke(app, ["evaluate", "--model", model, "--data", str(data), "--out", str(tmp_path / "eval")])
    assert evaluated.exit_code == 0, evaluated.output
    predicted = runner.invoke(app, ["predict", str(data.parent / "images" / "val"), "--json", "--model", model])
    assert predicted.exit_code == 0, predicted.output

    thresholds = resolve_model(model, models_dir=SHIPPED_MODELS).card.thresholds
    by_path = {row["path"]: row for row in map(json.loads, (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines())}
    rows = json.loads(predicted.stdout)
    assert sorted(r["path"] for r in rows) == sorted(by_path) and len(rows) == 6
    boxes = 0
    for row in rows:
        scored = by_path[row["path"]]
        assert row["kind"] == scored["kind"] == "gray"
        # evaluate keeps every box down to its scoring floor; above the card's threshold it is what predict gives
        above = [d for d in scored["detections"] if d["score"] > thresholds.for_class(d["class_name"], "gray")]
        assert [d["class_name"] for d in above] == [d["class_name"] for d in row["detections"]]
        for a, b in zip(above, row["detections"]):
            assert a["score"] == pytest.approx(b["score"], abs=1e-4) and a["box"] == pytest.approx(b["box"], abs=0.05)
        boxes += len(row["detections"])
    assert boxes > 0  # the model finds something, so the comparison has teeth
