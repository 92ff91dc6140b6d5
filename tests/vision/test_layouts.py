"""Every output layout ultralytics exports, decoded by the engine as ultralytics decodes it (slow: exports).

- YOLO26 end-to-end (NMS-free head, `export(nms=False)`): (B, N, 6);
- YOLO11 with NMS inside the graph (`export(nms=True)`): (B, 300, 6).
Randomly initialised models with the taxonomy's classes; a zero threshold so every output row is compared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from xscreen.vision.engine import Engine
from xscreen.vision.io import read_scan
from xscreen.vision.registry import InputSpec, ModelCard, OutputSpec, Thresholds, sha256_file
from xscreen.vision.taxonomy import load_taxonomy

pytestmark = pytest.mark.slow
IMGSZ = 64


def _export(tmp_path: Path, yaml: str, *, nms: bool) -> tuple[Path, Engine]:
    pytest.importorskip("ultralytics")
    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    names = load_taxonomy().names
    model = YOLO(yaml)
    model.model = DetectionModel(yaml, nc=len(names), verbose=False)
    model.model.names = dict(enumerate(names))
    model.model.args = {"imgsz": IMGSZ}
    pt = tmp_path / "model.pt"
    model.save(str(pt))
    onnx = Path(YOLO(str(pt)).export(format="onnx", imgsz=IMGSZ, dynamic=True, simplify=True, device="cpu", nms=nms, conf=0.0, verbose=False))
    target = tmp_path / "v" / "model.onnx"
    target.parent.mkdir()
    shutil.move(onnx, target)
    card = ModelCard(name="layout", version=1, created="now", architecture=yaml, classes=names, input=InputSpec(imgsz=IMGSZ),
                     output=OutputSpec(layout="end2end"), thresholds=Thresholds(conf=0.0, iou=0.7), files={"model.onnx": sha256_file(target)})
    (target.parent / "card.json").write_text(card.model_dump_json())
    return pt, Engine.load(target, models_dir=target.parent, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(("yaml", "nms"), [("yolo26n.yaml", False), ("yolo11n.yaml", True)])
def test_end2end_layouts_match_ultralytics(tmp_path: Path, shared_data: Path, yaml: str, nms: bool) -> None:
    from ultralytics import YOLO

    pt, engine = _export(tmp_path, yaml, nms=nms)
    assert engine.session.get_outputs()[0].shape[-1] == 6
    onnx_model = YOLO(str(engine.model_path), task="detect")
    for path in sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:3]:
        rgb = read_scan(path.read_bytes()).pixels
        ours = engine.predict([rgb])[0]
        theirs = onnx_model.predict(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), imgsz=IMGSZ, conf=0.0, iou=0.7, rect=False, device="cpu", verbose=False)[0]
        t_xyxy, t_conf = theirs.boxes.xyxy.numpy(), theirs.boxes.conf.numpy()
        assert len(ours) == len(t_xyxy) > 0
        o, t = np.argsort(-ours.scores, kind="stable"), np.argsort(-t_conf, kind="stable")
        assert np.abs(ours.scores[o] - t_conf[t]).max() <= 1e-3
        assert np.abs(np.sort(ours.xyxy, axis=0) - np.sort(t_xyxy, axis=0)).max() <= 1.0
