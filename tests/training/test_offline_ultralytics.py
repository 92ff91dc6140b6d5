"""ultralytics train / val / predict / ONNX export with outgoing connections blocked (conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import tiny_yolo_dataset
from xscreen.training.offline import prepare_ultralytics, ultralytics_config_dir

pytest.importorskip("ultralytics")


def test_fonts_are_local_before_ultralytics_asks(tmp_path: Path) -> None:
    prepare_ultralytics()
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        assert (ultralytics_config_dir() / name).stat().st_size > 100_000


def test_tiny_train_val_predict_export_offline(tmp_path: Path) -> None:
    prepare_ultralytics()
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    assert SETTINGS["sync"] is False
    assert SETTINGS["raytune"] is False  # no Ray Tune hook (and its warning each epoch) in our trainings
    data = tiny_yolo_dataset(tmp_path / "data", names=["a", "b"])
    model = YOLO("yolo11n.yaml")  # from scratch: no pretrained weights exist here
    model.train(data=str(data), epochs=1, imgsz=64, batch=4, workers=0, device="cpu", project=str(tmp_path / "runs"),
                name="t", plots=True, amp=False, verbose=False)
    metrics = model.val(data=str(data), imgsz=64, batch=4, workers=0, device="cpu", plots=True, verbose=False)
    assert 0.0 <= metrics.box.map50 <= 1.0
    results = model.predict(str(tmp_path / "data" / "images" / "val"), imgsz=64, device="cpu", verbose=False)
    assert len(results) == 4
    onnx_path = Path(model.export(format="onnx", imgsz=64, dynamic=True, simplify=False))
    assert onnx_path.exists() and onnx_path.stat().st_size > 100_000


def test_pil_still_reports_undecodable_images_after_ultralytics() -> None:
    # Regression: ultralytics' Image.open patch tried to pip-install pi-heif on the first undecodable image,
    # so importers and decoders saw ModuleNotFoundError instead of PIL's UnidentifiedImageError.
    import io

    from PIL import Image, UnidentifiedImageError

    prepare_ultralytics()
    import ultralytics  # noqa: F401

    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(b"not an image"))


def test_importing_xscreen_leaves_ultralytics_settings_alone() -> None:
    # A station host imports xscreen, the service and the engine; none of that is ultralytics' business.
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "HF_HUB_"))}
    code = (
        "import os, sys, xscreen, xscreen.cli, xscreen.serving.api.app, xscreen.vision.engine;"
        "print(sorted(k for k in os.environ if k.startswith('YOLO_')), 'ultralytics' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "False", "False"]
