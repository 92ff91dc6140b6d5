"""Shared builders for tests: tiny datasets and images made on the fly."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from xscreen.resources import DEFAULT_POLICY_FILE
from xscreen.vision.detections import Detections
from xscreen.vision.policy import load_policy
from xscreen.vision.scan import Scan

# The shipped policy's `name:version`, which every decision records (tests/vision/test_policy.py pins it).
DEFAULT_POLICY_VERSION = load_policy(DEFAULT_POLICY_FILE).version


class OneBadScanEngine:
    """A fake engine: a firearm at score 0.9 on every scan; it fails any batch holding the scan whose source is
    'bad' (as an engine bug on one odd input would). `calls` records each batch's size."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_scans(self, scans: list[Scan]) -> list[Detections]:
        from xscreen.vision.taxonomy import load_taxonomy

        self.calls.append(len(scans))
        if any(s.source == "bad" for s in scans):
            raise RuntimeError("cannot handle this one")
        firearm = load_taxonomy().id_of("firearm")
        return [Detections([[0, 0, 4, 4]], [0.9], [firearm]) for _ in scans]


def physics_parcel(material: str | None = None, areal: float = 0.0, share: float = 0.0, kind: str = "dual_energy") -> Scan:
    """A 200x200 scan of a parcel of paper-like matter (0.2 to 2 g/cm2 across it, thin enough to pass every image
    rule) with a block of `material` (g/cm2) over `share` of its rows, rendered through the physics."""
    from xscreen.vision.xray.physics import exact_transmission
    from xscreen.vision.xray.profiles import load_profile
    from xscreen.vision.xray.render import render_pseudocolour

    beam = load_profile().beam_spec
    px = np.empty((200, 200, 2), np.uint16)
    for col, thickness in enumerate(np.linspace(0.2, 2.0, 200)):
        t = exact_transmission(beam, {"water": float(thickness)})
        px[:, col] = round(t["low"] * 65535), round(t["high"] * 65535)
    if material is not None:
        t = exact_transmission(beam, {material: areal})
        rows = int(round(share * 200))
        px[:rows, :, 0], px[:rows, :, 1] = round(t["low"] * 65535), round(t["high"] * 65535)
    if kind == "colour":
        return Scan(render_pseudocolour(px[..., 0], px[..., 1]), "colour")
    if kind == "gray":
        return Scan(px[..., 1].copy(), "gray")
    return Scan(px, "dual_energy")


def colour_scan(source: str, size: int = 8) -> Scan:
    return Scan(np.zeros((size, size, 3), np.uint8), "colour", source=source)


def tiny_yolo_dataset(root: Path, *, names: list[str], n_train: int = 8, n_val: int = 4, size: int = 64, seed: int = 0) -> Path:
    """Write a tiny ultralytics dataset of dark rectangles on a light background; returns data.yaml."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img = np.full((size, size, 3), 230, np.uint8)
            lines = []
            for _ in range(int(rng.integers(1, 3))):
                cls = int(rng.integers(0, len(names)))
                w, h = rng.integers(size // 6, size // 2, size=2)
                x0, y0 = rng.integers(0, size - w), rng.integers(0, size - h)
                colour = (200, 90, 20) if cls % 2 else (20, 120, 220)
                cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), colour, -1)
                lines.append(f"{cls} {(x0 + w / 2) / size:.6f} {(y0 + h / 2) / size:.6f} {w / size:.6f} {h / size:.6f}")
            cv2.imwrite(str(root / "images" / split / f"{i:04d}.png"), img)
            (root / "labels" / split / f"{i:04d}.txt").write_text("\n".join(lines) + "\n")
    data_yaml = root / "data.yaml"
    data_yaml.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val", "names": dict(enumerate(names))}))
    return data_yaml


def build_tiny_model(root: Path, *, epochs: int = 3, imgsz: int = 64) -> Path:
    """Train a tiny YOLO11n on `tiny_yolo_dataset` with the taxonomy's classes, export and register it.

    Returns the registry dir, holding `tiny:1` promoted as default and the source weights at `tiny.pt`.
    """
    from xscreen.training.export import ExportOptions
    from xscreen.training.export import run as export_run
    from xscreen.training.offline import prepare_ultralytics
    from xscreen.training.registry import promote
    from xscreen.vision.taxonomy import load_taxonomy

    prepare_ultralytics()
    from ultralytics import YOLO

    data = tiny_yolo_dataset(root / "data", names=load_taxonomy().names, n_train=16, n_val=4, size=imgsz)
    model = YOLO("yolo11n.yaml")
    model.train(data=str(data), epochs=epochs, imgsz=imgsz, batch=8, workers=0, device="cpu", project=str(root / "runs"),
                name="tiny", plots=False, amp=False, verbose=False, seed=0, deterministic=True, val=False)
    weights = root / "runs" / "tiny" / "weights" / "last.pt"
    models_dir = root / "models"
    export_run(ExportOptions(weights=weights, name="tiny", version=1, models_dir=models_dir, imgsz=imgsz, conf=0.05,
                             check_parity=False))
    promote("tiny:1", models_dir=models_dir)
    import shutil

    shutil.copyfile(weights, models_dir / "tiny.pt")
    return models_dir


def free_port() -> int:
    """A loopback port nobody listens on now (for a service started as a real process)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(port: int, process: subprocess.Popen[str], *, timeout_s: float = 60.0) -> None:
    """Poll `/readyz` of a service started as `process` until it answers 200; fail with its output if it
    exits, or when `timeout_s` passes. (Polling a readiness probe, not sleeping in its place.)"""
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, f"the service on port {port} did not become ready in {timeout_s:.0f} s"
        time.sleep(0.2)


def add_int8_variant(models_dir: Path, ref: str = "tiny:1", *, calibration: int = 4) -> Path:
    """Quantise a registry model's fp32 file to its INT8 variant in place (card checksums updated), as
    `xscreen export --int8` does; calibrated on gray-background blobs with rectangles, like the tiny data."""
    import json

    from xscreen.training.quantize import quantize_int8
    from xscreen.vision.registry import CARD_FILE, VARIANT_FILES, resolve_model, sha256_file

    model = resolve_model(ref, models_dir=models_dir)
    size = model.card.input.imgsz
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(calibration):
        img = np.full((size, size, 3), 230, np.uint8)
        x0, y0 = rng.integers(0, size // 2, size=2)
        img[y0 : y0 + size // 3, x0 : x0 + size // 3] = (20, 120, 220)
        blobs.append(img.transpose(2, 0, 1)[None].astype(np.float32) / 255)
    out = quantize_int8(model.file("fp32"), model.path / VARIANT_FILES["int8"], blobs, input_name=model.card.input.name)
    card = json.loads((model.path / CARD_FILE).read_text())
    card["files"][out.name] = sha256_file(out)
    (model.path / CARD_FILE).write_text(json.dumps(card, indent=2))
    return models_dir


def load_bench(name: str) -> Any:
    """A script of bench/ as a module, importing its siblings as when it runs as a script (registered in
    sys.modules under its own name: its dataclasses look their module up by name)."""
    return load_script(name, folder="bench")


def load_script(name: str, *, folder: str = "scripts") -> Any:
    """A script of the checkout's `folder` (scripts/, bench/) as a module, as `load_bench` describes."""
    import importlib.util
    import sys

    folder = str(Path(__file__).resolve().parents[1] / folder)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(name, Path(folder) / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(folder)
