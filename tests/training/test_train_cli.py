"""`xscreen train` through its config, `--resume`, and the models commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.factories import tiny_yolo_dataset
from xscreen.cli import app
from xscreen.vision.taxonomy import load_taxonomy

pytest.importorskip("ultralytics")
runner = CliRunner()


def _config(tmp_path: Path, **extra) -> Path:
    data = tiny_yolo_dataset(tmp_path / "data", names=load_taxonomy().names, n_train=8, n_val=2)
    cfg = {"name": "t", "model": "yolo11n.yaml", "data": str(data), "imgsz": 64, "epochs": 1, "batch": 4, "workers": 0,
           "project": str(tmp_path / "runs"), "xray_augment": None, **extra}
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_writes_run_dir_with_config_and_taxonomy(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--config", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "t"
    assert (run / "weights" / "last.pt").exists()
    assert yaml.safe_load((run / "xscreen-config.yaml").read_text())["model"] == "yolo11n.yaml"
    assert (run / "taxonomy.yaml").read_text() == (Path(__file__).parents[2] / "configs" / "taxonomy.yaml").read_text()
    assert (run / "results.csv").exists()
    # the same name again is refused instead of silently writing t2
    again = runner.invoke(app, ["train", "--config", str(_config(tmp_path))])
    assert again.exit_code == 2 and "--resume" in again.output


def test_plain_reference_keeps_ultralytics_defaults_and_data_override(tmp_path: Path) -> None:
    other = tiny_yolo_dataset(tmp_path / "other", names=load_taxonomy().names, n_train=4, n_val=2, seed=5)
    result = runner.invoke(app, ["train", "--config", str(_config(tmp_path, plain=True, plots=False)), "--data", str(other)])
    assert result.exit_code == 0, result.output
    args = yaml.safe_load((tmp_path / "runs" / "t" / "args.yaml").read_text())
    assert args["data"] == str(other)
    assert args["hsv_h"] == 0.015 and args["flipud"] == 0.0 and args["plots"] is False  # ultralytics' own defaults


def test_resume_without_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--config", str(_config(tmp_path)), "--resume"])
    assert result.exit_code == 2 and "nothing to resume" in result.output


@pytest.mark.parametrize("extra, message", [({"bogus": 1}, "unknown keys"), ({"data": "/nonexistent/data.yaml"}, "does not exist")])
def test_bad_configs_are_refused(tmp_path: Path, extra: dict, message: str) -> None:
    result = runner.invoke(app, ["train", "--config", str(_config(tmp_path, **extra))])
    assert result.exit_code == 2 and message in result.output


def test_dataset_with_other_classes_is_refused(tmp_path: Path) -> None:
    data = tiny_yolo_dataset(tmp_path / "other", names=["cat", "dog"])
    result = runner.invoke(app, ["train", "--config", str(_config(tmp_path, data=str(data)))])
    assert result.exit_code == 2 and "differ from the taxonomy" in result.output


def test_models_list_show_promote(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(models))
    from xscreen.settings import get_settings

    get_settings.cache_clear()
    listed = runner.invoke(app, ["models", "list", "--json"])
    assert listed.exit_code == 0 and '"ref": "tiny:1"' in listed.output and '"default": true' in listed.output
    shown = runner.invoke(app, ["models", "show", "tiny:1"])
    assert shown.exit_code == 0 and '"imgsz": 64' in shown.output
    missing = runner.invoke(app, ["models", "promote", "tiny:9"])
    assert missing.exit_code == 3 and "no version 9" in missing.output
