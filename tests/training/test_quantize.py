"""INT8 variant: written from real calibration scans, loads as the registry's int8 variant, stays close to fp32."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xscreen.training.quantize import _head_float_nodes, _stem_nodes, quantize_int8
from xscreen.vision.engine import Engine
from xscreen.vision.io import read_scan
from xscreen.vision.registry import sha256_file

pytestmark = pytest.mark.slow  # calibration and quantisation: ~30 s on a busy 2-core machine


def test_int8_variant(tiny_models_dir: Path, shared_data: Path, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    version = tmp_path / "tiny" / "1"
    shutil.copytree(tiny_models_dir / "tiny" / "1", version)
    fp32 = Engine.load("tiny:1", models_dir=tmp_path, providers=["CPUExecutionProvider"])
    calib = [read_scan(p.read_bytes()).pixels for p in sorted((shared_data / "sixray-subset" / "train").glob("*.jpg"))[:8]]
    quantize_int8(version / "model.onnx", version / "model-int8.onnx", (fp32.preprocess([im])[0] for im in calib))

    card = json.loads((version / "card.json").read_text())
    card["files"]["model-int8.onnx"] = sha256_file(version / "model-int8.onnx")
    (version / "card.json").write_text(json.dumps(card))
    int8 = Engine.load("tiny:1", models_dir=tmp_path, variant="int8", providers=["CPUExecutionProvider"])
    assert int8.variant == "int8" and int8.model_path.name == "model-int8.onnx"

    graph = onnx.load(str(version / "model-int8.onnx")).graph
    assert any(n.op_type == "QuantizeLinear" for n in graph.node)
    kept = set(_head_float_nodes(version / "model.onnx"))
    assert any(name.endswith("/Conv") for name in kept), "the head's output convolutions must stay float"
    stem = _stem_nodes(version / "model.onnx")
    assert stem and all(n.op_type not in ("QLinearConv", "ConvInteger") for n in graph.node if n.name in stem)
    for module in ("/model.0/", "/model.1/"):  # both stem convolutions: the second in INT8 cost version 5 0.6 pt
        stem_conv = next(n for n in graph.node if n.name == f"{module}conv/Conv")
        assert not any(n.op_type == "DequantizeLinear" and n.output[0] in stem_conv.input[1:] for n in graph.node), f"{module} weights stay float"

    scans = [read_scan(p.read_bytes()).pixels for p in sorted((shared_data / "sixray-subset" / "val").glob("*.jpg"))[:4]]
    for image in scans:
        blob, _ = fp32.preprocess([image])
        a = fp32.session.run(None, {fp32.input_name: blob})[0]
        b = int8.session.run(None, {int8.input_name: blob})[0]
        assert np.abs(a[:, 4:] - b[:, 4:]).max() < 0.1  # class scores
        assert np.median(np.abs(a[:, :4] - b[:, :4])) < 2.0  # box coordinates, model-input pixels
