"""`xscreen train` through its config, `--resume`, and the models commands."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("extra, message", [
    ({"bogus": 1}, "unknown keys"),
    ({"data": "/nonexistent/data.yaml"}, "does not exist"),
    ({"epochs": "many"}, "epochs: Input should be a valid integer"),  # was a traceback from inside ultralytics
])
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
    shown = runner.invoke(app, ["models", "show", "tiny:1"])  # concise: the essentials, not the whole card
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("tiny:1 (") and "input: 64 px" in shown.output and "--json" in shown.output
    assert len(shown.output.splitlines()) < 40
    card = json.loads(runner.invoke(app, ["models", "show", "tiny:1", "--json"]).output)
    assert card["input"]["imgsz"] == 64 and card["training"]
    missing = runner.invoke(app, ["models", "promote", "tiny:9"])
    assert missing.exit_code == 3 and "no version 9" in missing.output


def _manifest(data: Path) -> None:
    """A build manifest for the tiny set: train 0-1 'real', 2-3 composites on 'real', 4-7 composites on 'other'."""
    lines = []
    for i in range(8):
        source, origin = ("real", f"train/{i}.jpg") if i < 2 else ("tip", f"{'real' if i < 4 else 'other'}:train/{i}.jpg")
        lines.append({"file": f"images/train/{i:04d}.png", "source": source, "split": "train", "id": str(i), "origins": [origin]})
    lines.append({"file": "images/val/0000.png", "source": "real", "split": "val", "id": "v", "origins": ["val/0.jpg"]})
    (data.parent / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_mix_picks_and_repeats_sources_and_keeps_validation(tmp_path: Path) -> None:
    cfg = _config(tmp_path, mix={"real": 3, "tip:real": 1}, model="yolo26n.yaml")
    data = Path(yaml.safe_load(cfg.read_text())["data"])
    _manifest(data)
    result = runner.invoke(app, ["train", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "t"
    listed = (run / "train.txt").read_text().split()
    names = sorted(Path(f).name for f in listed)
    assert names == ["0000.png"] * 3 + ["0001.png"] * 3 + ["0002.png", "0003.png"]  # no composite on 'other'
    spec = yaml.safe_load((run / "data.yaml").read_text())
    assert spec["val"] == str(data.parent / "images" / "val") and yaml.safe_load((run / "args.yaml").read_text())["data"] == str(run / "data.yaml")
    assert (run / "weights" / "last.pt").exists()  # YOLO26n trains through the same path


@pytest.mark.parametrize("mix, message", [({"opixray": 1}, "not in"), ({"real": 0}, "selects no training scans")])
def test_bad_mix_is_refused(tmp_path: Path, mix: dict, message: str) -> None:
    cfg = _config(tmp_path, mix=mix)
    _manifest(Path(yaml.safe_load(cfg.read_text())["data"]))
    result = runner.invoke(app, ["train", "--config", str(cfg)])
    assert result.exit_code == 2 and message in result.output


def test_training_from_a_checkpoint_starts_from_its_weights(tmp_path: Path) -> None:
    """Regression: `pretrained=False` made ultralytics rebuild a .pt model from its yaml, so a stage-2 run
    silently trained from scratch. With no learning rate the continued run must keep the checkpoint's weights."""
    import torch

    first = runner.invoke(app, ["train", "--config", str(_config(tmp_path))])
    assert first.exit_code == 0, first.output
    start = tmp_path / "runs" / "t" / "weights" / "last.pt"
    frozen = {"optimizer": "SGD", "lr0": 0.0, "lrf": 1.0, "warmup_epochs": 0, "momentum": 0.0, "weight_decay": 0.0}
    cfg = _config(tmp_path / "second", name="t2", model=str(start), hyp=frozen, project=str(tmp_path / "runs"))
    second = runner.invoke(app, ["train", "--config", str(cfg)])
    assert second.exit_code == 0, second.output

    def conv_weights(path: Path) -> dict[str, torch.Tensor]:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        return {k: v for k, v in (ckpt["ema"] or ckpt["model"]).float().state_dict().items() if k.endswith("conv.weight")}

    before, after = conv_weights(start), conv_weights(tmp_path / "runs" / "t2" / "weights" / "last.pt")
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_flags_override_the_config_progress_per_epoch_and_resume_of_a_finished_run(tmp_path: Path) -> None:
    """`--epochs/--imgsz/--batch/--device` win over the YAML; ultralytics prints each epoch's losses; `--resume`
    on the finished run says so without training or reaching the network (the autouse fixture blocks it)."""
    cfg = _config(tmp_path, epochs=5, imgsz=96, batch=8)
    result = runner.invoke(app, ["train", "--config", str(cfg), "--epochs", "2", "--imgsz", "64", "--batch", "4", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "t"
    args = yaml.safe_load((run / "args.yaml").read_text())
    assert (args["epochs"], args["imgsz"], args["batch"], args["device"]) == (2, 64, 4, "cpu")
    assert "box_loss" in result.output and "2/2" in result.output  # the epoch table, as `yolo train` shows it
    assert len((run / "results.csv").read_text().splitlines()) == 3  # header + one line per epoch
    before = (run / "weights" / "last.pt").stat().st_mtime_ns
    again = runner.invoke(app, ["train", "--config", str(cfg), "--resume"])
    assert again.exit_code == 0, again.output
    assert again.output == f"{run} is complete (2 epochs): nothing to resume; weights in {run / 'weights'}\n"
    assert (run / "weights" / "last.pt").stat().st_mtime_ns == before


def test_a_run_that_failed_before_its_first_checkpoint_does_not_block_retries(tmp_path: Path) -> None:
    broken = _config(tmp_path, model="no-such-architecture.yaml")
    failed = runner.invoke(app, ["train", "--config", str(broken), "--quiet"])
    assert failed.exit_code != 0 and (tmp_path / "runs" / "t").is_dir()  # it got as far as its run folder
    resumed = runner.invoke(app, ["train", "--config", str(broken), "--resume"])
    assert resumed.exit_code == 2 and "stopped before its first checkpoint" in resumed.output
    retried = runner.invoke(app, ["train", "--config", str(_config(tmp_path)), "--quiet"])
    assert retried.exit_code == 0, retried.output
    assert (tmp_path / "runs" / "t" / "weights" / "last.pt").exists()


def test_a_missing_stage_1_checkpoint_is_one_sentence(tmp_path: Path) -> None:
    stage1 = tmp_path / "runs" / "reference-plain-gpu" / "weights" / "last.pt"
    result = runner.invoke(app, ["train", "--config", str(_config(tmp_path, model=str(stage1)))])
    assert result.exit_code == 2, result.output
    assert result.output == (f"error (config_error): model {stage1} does not exist: this config continues the run "
                             "reference-plain-gpu; train that one first (the config's header says how)\n")
    assert not (tmp_path / "runs" / "t").exists()


def test_the_shipped_smoke_config_names_the_synth_set_the_readme_builds() -> None:
    from xscreen.checkout import REPO_ROOT
    from xscreen.training.train import load_options

    options = load_options(REPO_ROOT / "configs" / "train" / "smoke-cpu.yaml")
    assert options.device == "cpu" and options.data == REPO_ROOT / "data" / "smoke" / "data.yaml"
    assert "xscreen synth --count 32 --out data/smoke" in (REPO_ROOT / "README.md").read_text()


def test_cpu_training_gets_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """ultralytics gave CPU training cpu_count - 1 torch threads and no loader workers: one idle core of two."""
    import torch
    from ultralytics.utils import torch_utils

    from xscreen.training.offline import prepare_ultralytics
    from xscreen.training.train import use_every_cpu_core

    prepare_ultralytics()
    before = torch.get_num_threads()
    monkeypatch.setattr(torch_utils, "NUM_THREADS", torch_utils.NUM_THREADS)  # restored after the test
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    try:
        assert use_every_cpu_core() == 3
        torch_utils.select_device("cpu", verbose=False)  # what the trainer calls
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
