"""A trainable ultralytics checkpoint from a registry model's ONNX file.

The registry keeps ONNX (what stations run), not the `.pt` that training wrote, so a later session that
wants to fine-tune a shipped model has only its ONNX. ultralytics fuses every Conv+BatchNorm into one
convolution with a bias before export, and keeps the module names (`model.0.conv.weight`, `.bias`), so
the weights map one to one onto a freshly built model of the card's architecture.

Training needs the BatchNorm layers back. For a fused conv y = W*x + b we set BN's running statistics to
the conv output's own per-channel mean mu and variance s^2 (measured on real scans) and choose
gamma = sqrt(s^2 + eps), beta = mu + b, so BN(W*x) = W*x + b exactly in eval mode (whatever mu and s are),
and approximately in train mode too, where BN normalises by the batch's statistics, which are close to
mu and s^2 on scans like the calibration ones. Without calibrated statistics the first training batches
would rescale every channel and the fine-tune would start from a broken model.
"""

from __future__ import annotations

import logging
from itertools import chain
from pathlib import Path

import numpy as np

from xscreen.errors import ConfigError

logger = logging.getLogger(__name__)


def _onnx_weights(onnx_path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    return {t.name: numpy_helper.to_array(t) for t in graph.initializer if t.name.startswith("model.")}


def checkpoint_from_onnx(onnx_path: Path, architecture: str, names: list[str], calibration: list[np.ndarray], out: Path) -> Path:
    """Write `out` (.pt) holding `architecture` (e.g. "yolo11n") with the ONNX model's weights.

    `calibration`: a few letterboxed RGB uint8 images (H, W, 3), the model's input size, used to measure
    the BatchNorm statistics. Raises ConfigError when the ONNX file does not fit the architecture.
    """
    import torch
    from ultralytics import YOLO
    from ultralytics.nn.modules.conv import Conv
    from ultralytics.nn.tasks import DetectionModel

    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
    weights = _onnx_weights(onnx_path)
    model = DetectionModel(f"{architecture}.yaml", nc=len(names), verbose=False)
    convs = {name: m for name, m in model.named_modules() if isinstance(m, Conv)}
    used: set[str] = set()

    def take(key: str, like: torch.Tensor) -> torch.Tensor:
        if key not in weights:
            raise ConfigError(f"{onnx_path}: no weight {key}; is it a {architecture} with {len(names)} classes?")
        value = torch.from_numpy(np.array(weights[key], dtype=np.float32))
        if tuple(value.shape) != tuple(like.shape):
            raise ConfigError(f"{onnx_path}: {key} has shape {tuple(value.shape)}, {architecture} wants {tuple(like.shape)}")
        used.add(key)
        return value

    biases: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name, m in convs.items():
            m.conv.weight.copy_(take(f"{name}.conv.weight", m.conv.weight))
            biases[name] = take(f"{name}.conv.bias", m.bn.bias)
        # plain convs (the head's last layers, DFL) keep their names, as parameters or buffers
        for name, tensor in chain(model.named_parameters(), model.named_buffers()):
            if name in weights and not any(name.startswith(c + ".") for c in convs):
                tensor.copy_(take(name, tensor))
    missing = sorted(k for k in weights if k not in used and not k.endswith("dfl.conv.weight"))
    if missing:
        raise ConfigError(f"{onnx_path}: weights {missing[:3]}... have no place in {architecture}")

    # BN statistics of each conv's own output, measured in eval mode where every BN is exactly "+ bias"
    # whatever its statistics, so one pass sees the same activations as the ONNX model. Per-channel running
    # sums (count, sum, sum of squares), not the activations themselves, which would hold every layer's maps.
    counts: dict[str, int] = dict.fromkeys(convs, 0)
    sums: dict[str, torch.Tensor] = {}
    squares: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def record(_module, _inputs, output):
            flat = output.detach().double().transpose(0, 1).reshape(output.shape[1], -1)
            counts[name] += flat.shape[1]
            sums[name] = sums.get(name, 0) + flat.sum(dim=1)
            squares[name] = squares.get(name, 0) + (flat * flat).sum(dim=1)
        return record

    with torch.no_grad():
        for name, m in convs.items():
            _set_bn(m.bn, biases[name], torch.zeros_like(biases[name]), torch.ones_like(biases[name]))
        handles = [m.conv.register_forward_hook(hook(n)) for n, m in convs.items()]
        model.eval()
        batch = torch.from_numpy(np.stack(calibration)).permute(0, 3, 1, 2).float() / 255.0
        for chunk in batch.split(4):
            model(chunk)
        for h in handles:
            h.remove()
        for name, m in convs.items():
            n = counts[name]
            mean = sums[name] / n
            var = (squares[name] - n * mean * mean) / max(n - 1, 1)  # unbiased, as torch.var
            _set_bn(m.bn, biases[name], mean.float(), var.clamp(min=0).float())

    model.names = dict(enumerate(names))
    yolo = YOLO(f"{architecture}.yaml")
    yolo.model = model  # type: ignore[assignment]  # ultralytics annotates a model path (str | None); it holds the module once built
    out.parent.mkdir(parents=True, exist_ok=True)
    yolo.save(str(out))
    logger.info("wrote %s from %s (%d calibration scans)", out, onnx_path, len(calibration))
    return out


def _set_bn(bn, bias, mean, var) -> None:
    bn.running_mean.copy_(mean)
    bn.running_var.copy_(var)
    bn.weight.copy_((var + bn.eps).sqrt())
    bn.bias.copy_(mean + bias)


def is_registry_ref(model: str) -> bool:
    """`NAME:VERSION` names a registry model; a path or an ultralytics yaml does not."""
    name, sep, version = str(model).partition(":")
    return bool(sep) and version.isdigit() and "/" not in name and not name.endswith((".pt", ".yaml"))


def start_from_registry(ref: str, run_dir: Path, data: Path, imgsz: int, *, models_dir: Path, n_calibration: int = 16) -> Path:
    """`run_dir/start.pt`: a trainable checkpoint of registry model `ref`, calibrated on `data`'s training scans."""
    import cv2

    from xscreen.vision.letterbox import letterbox
    from xscreen.vision.registry import resolve_model
    from xscreen.vision.yolo import load_data_yaml

    model = resolve_model(ref, models_dir=models_dir)
    scans = load_data_yaml(data).images("train")
    step = max(len(scans) // n_calibration, 1)
    calibration = []
    for path in scans[::step][:n_calibration]:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is not None:
            calibration.append(letterbox(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), imgsz, pad_value=model.card.input.pad_value)[0])
    if not calibration:
        raise ConfigError(f"{data} has no readable training scans to calibrate {ref}'s BatchNorm statistics")
    return checkpoint_from_onnx(model.file("fp32"), model.card.architecture, list(model.card.classes), calibration, run_dir / "start.pt")
