"""INT8 variant of an fp32 detector for CPUs: onnxruntime static quantisation, calibrated on real scans.

QDQ format, int8 weights per output channel, uint8 activations with min-max ranges from calibration scans
that went through the engine's own preprocessing (so the ranges are those of real inputs). The detection
head's output convolutions and everything after them (box distribution decode, sigmoid scores,
concatenation) stay float: quantising logits, 0..1 scores and pixel coordinates to 256 levels would cost
far more accuracy than time. So do the stem's first two convolutions, straight off the pixels: on version 1
and 218 real SIXray validation scans, quantising the first cost 2.3 points of mAP50 (0.551 -> 0.528), keeping
it float 0.6; percentile calibration and a float head changed nothing, int8 activations were slower than
fp32 (bench/engine.py, docs/bench/engine.md). On version 5 (drug fine-tune) the first alone in float lost 1.2
points (0.769 -> 0.757), the first two 0.5 (0.769 -> 0.764), the first plus the whole head 0.6
(bench/predict.py --eval 220, 2026-12-02).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

logger = logging.getLogger(__name__)


def _head_float_nodes(model_path: Path) -> list[str]:
    """Nodes of the last module (ultralytics' Detect head) kept in float: everything but its hidden convolutions.

    Kept: the box-distribution decode, sigmoid and concatenation, and the final 1x1 convolutions that emit raw
    box and class logits (no activation after them): their outputs span a wide range whose low end (the class
    prior bias, about -10) decides what clears the threshold.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    prefixes = [n.name.split("/")[1] for n in graph.node if n.name.startswith("/model.")]
    if not prefixes:
        return []
    last = max(prefixes, key=lambda p: int(p.split(".")[1]) if p.split(".")[1].isdigit() else -1)
    head = [n for n in graph.node if n.name.startswith(f"/{last}/")]
    consumers: dict[str, set[str]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, set()).add(node.op_type)
    keep = []
    for node in head:
        activated = node.op_type == "Conv" and consumers.get(node.output[0], set()) & {"Sigmoid", "Relu", "HardSwish", "Mul"}
        if not activated:
            keep.append(node.name)
    return keep


STEM_MODULES = ("/model.0/", "/model.1/")  # ultralytics' first two modules: the two stride-2 convolutions off the pixels


def _stem_nodes(model_path: Path) -> list[str]:
    """Nodes of the stem's first two modules (each a convolution and its activation), kept in float."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [n.name for n in graph.node if n.name.startswith(STEM_MODULES)]


def quantize_int8(fp32_path: Path, out_path: Path, calibration: Iterable[np.ndarray], *, input_name: str = "images") -> Path:
    """Write an INT8 QDQ model calibrated on preprocessed (1, 3, H, W) float32 blobs; returns `out_path`."""
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):
        def __init__(self, blobs: Iterable[np.ndarray]) -> None:
            self._it: Iterator[np.ndarray] = iter(blobs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            blob = next(self._it, None)
            return None if blob is None else {input_name: blob}

    with tempfile.TemporaryDirectory(prefix="xscreen-int8-") as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        exclude = _stem_nodes(prepared) + _head_float_nodes(prepared)
        quantize_static(
            str(prepared),
            str(out_path),
            _Reader(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=exclude,
        )
    logger.info("wrote INT8 model %s (%d stem and head nodes kept in float)", out_path, len(exclude))
    return out_path
