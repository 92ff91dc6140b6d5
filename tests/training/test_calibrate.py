"""`xscreen calibrate`: per-class, per-kind thresholds chosen on validation, which the engine then honours."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.factories import tiny_yolo_dataset
from xscreen.checkout import REPO_ROOT
from xscreen.cli import app
from xscreen.training.calibrate import MIN_THRESHOLD, calibrate, threshold_at_far
from xscreen.training.evaluate import load_samples, read_dataset_scan
from xscreen.vision.engine import Engine
from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.yolo import write_data_yaml

pytest.importorskip("ultralytics")
SHIPPED = "xscreen-yolo11n:7"


@pytest.mark.parametrize(
    ("scores", "far", "alarms"),
    [
        ([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0], 0.1, 1),  # one of ten may alarm
        ([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0], 0.05, 0),
        ([0.5] * 4 + [0.1] * 16, 0.2, 4),  # ties: all four at 0.5 fit in 20 %
        ([0.5] * 5 + [0.1] * 15, 0.2, 0),  # five ties do not fit in four: none of them may alarm
        ([0.01, 0.02], 0.5, 0),  # the floor: never below MIN_THRESHOLD
    ],
)
def test_threshold_at_far_allows_at_most_that_many_alarms(scores: list[float], far: float, alarms: int) -> None:
    negatives = np.array(scores, np.float32)
    t = threshold_at_far(negatives, far)
    assert t >= MIN_THRESHOLD
    assert int((negatives >= t).sum()) == alarms <= far * len(negatives)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return tiny_yolo_dataset(tmp_path / "data", names=load_taxonomy().names, n_train=1, n_val=10, size=64, seed=7)


@pytest.fixture
def real_dataset(tmp_path: Path, shared_data: Path) -> Path:
    """Twelve real scans (the tiny model scores on them); half carry a knife label, so each class has both."""
    names = load_taxonomy().names
    images = tmp_path / "real" / "images" / "val"
    labels = tmp_path / "real" / "labels" / "val"
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for i, src in enumerate(sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:12]):
        shutil.copy(src, images / src.name)
        (labels / f"{src.stem}.txt").write_text(f"{i % len(names)} 0.5 0.5 0.2 0.2\n" if i % 2 else "")
    write_data_yaml(tmp_path / "real" / "data.yaml", names=names, splits={"train": "images/val", "val": "images/val"}, root=tmp_path / "real")
    return tmp_path / "real" / "data.yaml"


def test_calibrated_thresholds_hold_their_false_alarm_rate_through_the_engine(real_dataset: Path, tmp_path: Path) -> None:
    # The shipped model (the tiny one scores nothing on real scans); the labels are made up, so its real
    # firearms count as false alarms and the thresholds must rise among its real scores.
    dataset = real_dataset
    rows = calibrate(SHIPPED, dataset, models_dir=REPO_ROOT / "models", far=0.05)
    assert {r.kind for r in rows} == {"colour"}
    chosen = {r.name: r.threshold for r in rows if r.threshold is not None}
    assert chosen
    # Store them as colour scans' thresholds in a copy of the card, then screen the same scans as stations do.
    models = tmp_path / "models"
    name, version = SHIPPED.split(":")
    shutil.copytree(REPO_ROOT / "models" / name / version, models / name / version)
    card_file = models / name / version / "card.json"
    card = json.loads(card_file.read_text())
    card["thresholds"]["per_kind"] = {**card["thresholds"]["per_kind"], "colour": chosen}  # the gray ones stay
    card_file.write_text(json.dumps(card))
    engine = Engine.load(SHIPPED, models_dir=models)
    taxonomy = load_taxonomy()
    _, _, samples = load_samples(dataset, "val")
    scans = [read_dataset_scan(s.image, gray=False) for s in samples]
    detections = engine.predict_scans(scans)
    for row in rows:
        if row.threshold is None:
            continue
        without = [d for d, s in zip(detections, samples) if row.name not in s.class_names]
        alarms = sum(bool((d.class_ids == taxonomy.id_of(row.name)).any()) for d in without)
        assert alarms / len(without) <= 0.05 and alarms / len(without) == pytest.approx(row.false_alarm_rate)
    assert any(r.threshold and r.threshold > MIN_THRESHOLD for r in rows), "no threshold rose above the floor: the check proves nothing"
    # Scans of another kind keep the card's plain thresholds.
    gray = engine.predict_scans([read_dataset_scan(s.image, gray=True) for s in samples])
    plain = Engine.load(SHIPPED, models_dir=REPO_ROOT / "models").predict_scans([read_dataset_scan(s.image, gray=True) for s in samples])
    assert [len(d) for d in gray] == [len(d) for d in plain]


def test_cli_prints_export_flags_and_refuses_bad_input(tiny_models_dir: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xscreen.settings import get_settings

    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_models_dir))
    get_settings.cache_clear()
    ok = CliRunner().invoke(app, ["calibrate", "--model", "tiny:1", "--data", str(dataset), "--far", "0.2"])
    assert ok.exit_code == 0, ok.output
    assert "--class-conf colour:" in ok.output
    as_json = CliRunner().invoke(app, ["calibrate", "--model", "tiny:1", "--data", str(dataset), "--json"])
    assert as_json.exit_code == 0 and {r["kind"] for r in json.loads(as_json.output)} == {"colour"}
    bad = CliRunner().invoke(app, ["calibrate", "--model", "tiny:1", "--data", str(dataset), "--far", "1.5"])
    assert bad.exit_code == 2 and "between 0 and 1" in bad.output and "Traceback" not in bad.output
    checkpoint = CliRunner().invoke(app, ["calibrate", "--model", str(tiny_models_dir / "tiny.pt"), "--data", str(dataset)])
    assert checkpoint.exit_code == 2 and "registry model" in checkpoint.output
    get_settings.cache_clear()


def test_each_scan_kind_is_calibrated_on_its_own_scans(real_dataset: Path) -> None:
    import cv2

    from xscreen.vision.xray.convert import colour_to_gray

    images = sorted((real_dataset.parent / "images" / "val").glob("*.jpg"))
    for image in images[:5]:  # five of the twelve become gray PNGs (a gray station's files)
        rgb = cv2.imread(str(image))[..., ::-1]
        cv2.imwrite(str(image.with_suffix(".png")), colour_to_gray(np.ascontiguousarray(rgb)))
        image.unlink()
    rows = calibrate(SHIPPED, real_dataset, models_dir=REPO_ROOT / "models", far=0.05)
    by_kind: dict[str, int] = {}
    for r in rows:
        by_kind[r.kind] = max(by_kind.get(r.kind, 0), r.negatives + r.positives)
    assert by_kind == {"colour": 7, "gray": 5}
