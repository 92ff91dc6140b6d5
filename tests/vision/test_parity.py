"""Parity: our engine and ultralytics' own predict, same model, same real scans -> same boxes and scores.

Tolerances from issue 6: boxes within 1 px, scores within 1e-3. ultralytics' predict letterboxes a single
image to a minimal rectangle (`rect=True`) for .pt and dynamic ONNX models, as our engine does on the CPU
(`Engine.rect`, each scan in its own rectangle whatever its batch mates). At the tiny model's 64 px these
scans' rectangles are the square, so the batched comparison asks ultralytics for `rect=False`; single scans
are compared at 256 px, where the rectangles differ.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from xscreen.vision.engine import Engine
from xscreen.vision.io import read_scan
from xscreen.vision.registry import Thresholds

BOX_TOL_PX = 1.0
SCORE_TOL = 1e-3
CONF = 0.001  # a barely trained model scores low: a low threshold so that there are boxes to compare


@pytest.fixture(scope="module")
def scans(shared_data: Path) -> list[np.ndarray]:
    paths = sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:5] + sorted((shared_data / "opixray-roboflow-subset" / "images").glob("*.jpg"))[:3]
    return [read_scan(p.read_bytes(), filename=p.name).pixels for p in paths]


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    loaded = Engine.load("tiny:1", models_dir=tiny_models_dir, providers=["CPUExecutionProvider"])
    card = loaded.card.model_copy(update={"thresholds": Thresholds(conf=CONF, iou=0.45)})
    return Engine(session=loaded.session, card=card, model_path=loaded.model_path, variant="fp32")


def _assert_parity(ours, theirs_result) -> None:
    boxes = theirs_result.boxes
    t_xyxy, t_conf, t_cls = boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy().astype(np.int64)
    assert len(ours) == len(t_xyxy) > 0
    o = np.argsort(-ours.scores, kind="stable")
    t = np.argsort(-t_conf, kind="stable")
    assert np.abs(ours.xyxy[o] - t_xyxy[t]).max() <= BOX_TOL_PX
    assert np.abs(ours.scores[o] - t_conf[t]).max() <= SCORE_TOL
    # The tiny model's classes are the taxonomy's, in taxonomy order: model index == taxonomy id.
    np.testing.assert_array_equal(ours.class_ids[o], t_cls[t])


def test_engine_matches_ultralytics_pytorch_predict(engine: Engine, tiny_models_dir: Path, scans: list[np.ndarray]) -> None:
    from ultralytics import YOLO

    model = YOLO(str(tiny_models_dir / "tiny.pt"))
    ours = engine.predict(scans)  # one batched call, images of different sizes
    for image, det in zip(scans, ours):
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        theirs = model.predict(bgr, imgsz=64, conf=CONF, iou=0.45, rect=False, device="cpu", verbose=False)[0]
        _assert_parity(det, theirs)


def test_engine_matches_ultralytics_onnx_predict(engine: Engine, scans: list[np.ndarray]) -> None:
    from ultralytics import YOLO

    model = YOLO(str(engine.model_path), task="detect")
    for image in scans[:3]:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        theirs = model.predict(bgr, imgsz=64, conf=CONF, iou=0.45, rect=False, device="cpu", verbose=False)[0]
        _assert_parity(engine.predict([image])[0], theirs)


def test_single_scans_match_ultralytics_onnx_predict_in_its_minimal_rectangle(engine: Engine, scans: list[np.ndarray]) -> None:
    """Issue 20: `YOLO(onnx).predict(one image)` runs a wide scan at its minimal rectangle (256 x 192 here), not the square; so do we."""
    from ultralytics import YOLO

    from xscreen.vision.letterbox import rect_shape

    model = YOLO(str(engine.model_path), task="detect")
    at_256 = engine.with_thresholds(imgsz=256)
    assert at_256.rect and rect_shape(scans[0].shape[:2], (256, 256)) == (192, 256)  # SIXray val 0: a wide scan
    for image in scans[:3]:
        blob, _ = at_256.preprocess([image])
        assert blob.shape[2:] == rect_shape(image.shape[:2], (256, 256))
        theirs = model.predict(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), imgsz=256, conf=CONF, iou=0.45, device="cpu", verbose=False)[0]
        assert tuple(theirs.orig_shape) == image.shape[:2]
        _assert_parity(at_256.predict([image])[0], theirs)
