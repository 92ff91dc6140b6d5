"""A trainable checkpoint rebuilt from a registry model's ONNX computes what the ONNX model computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.factories import tiny_yolo_dataset
from xscreen.cli import app
from xscreen.vision.taxonomy import load_taxonomy

pytest.importorskip("ultralytics")


def _scans(n: int, size: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def test_checkpoint_from_onnx_matches_the_onnx_model(tiny_models_dir: Path, tmp_path: Path) -> None:
    import onnxruntime as ort
    import torch
    from ultralytics import YOLO

    from xscreen.training.recover import checkpoint_from_onnx
    from xscreen.vision.registry import resolve_model

    model = resolve_model("tiny:1", models_dir=tiny_models_dir)
    size = model.card.input.imgsz
    pt = checkpoint_from_onnx(model.file("fp32"), model.card.architecture, list(model.card.classes), _scans(8, size, 0), tmp_path / "start.pt")
    x = np.stack(_scans(2, size, 1)).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    want = ort.InferenceSession(str(model.file("fp32")), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
    net = YOLO(str(pt)).model.float().eval()
    with torch.no_grad():
        got = net(torch.from_numpy(x))[0].numpy()
    nc = len(model.card.classes)
    assert got.shape == want.shape
    assert np.abs(got[:, 4 : 4 + nc] - want[:, 4 : 4 + nc]).max() < 5e-3  # class scores; the .pt is stored in fp16


def test_checkpoint_refuses_another_architecture(tiny_models_dir: Path, tmp_path: Path) -> None:
    from xscreen.errors import ConfigError
    from xscreen.training.recover import checkpoint_from_onnx
    from xscreen.vision.registry import resolve_model

    model = resolve_model("tiny:1", models_dir=tiny_models_dir)
    with pytest.raises(ConfigError, match="yolov8s"):
        checkpoint_from_onnx(model.file("fp32"), "yolov8s", list(model.card.classes), _scans(2, 64, 0), tmp_path / "x.pt")


def test_train_can_start_from_a_registry_model(tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xscreen.settings import get_settings

    monkeypatch.setenv("XSCREEN_MODELS_DIR", str(tiny_models_dir))
    get_settings.cache_clear()
    data = tiny_yolo_dataset(tmp_path / "data", names=load_taxonomy().names, n_train=8, n_val=2)
    cfg = {"name": "ft", "model": "tiny:1", "data": str(data), "imgsz": 64, "epochs": 1, "batch": 4, "workers": 0,
           "project": str(tmp_path / "runs"), "xray_augment": None, "plots": False}
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "ft" / "start.pt").exists() and (tmp_path / "runs" / "ft" / "weights" / "last.pt").exists()
