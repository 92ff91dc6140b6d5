"""Scan files of every kind a station may send, made on the fly."""

from __future__ import annotations

import io

import cv2
import numpy as np
import tifffile


def parcel_rgb(width: int = 160, height: int = 120, seed: int = 0) -> np.ndarray:
    """A light background with dark blocks, like `tests.factories.tiny_yolo_dataset`'s training images."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 230, np.uint8)
    for _ in range(2):
        w, h = rng.integers(width // 6, width // 2), rng.integers(height // 6, height // 2)
        x0, y0 = rng.integers(0, width - w), rng.integers(0, height - h)
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + w), int(y0 + h)), (20, 120, 220), -1)
    return img


def png_bytes(img: np.ndarray | None = None, seed: int = 0) -> bytes:
    img = parcel_rgb(seed=seed) if img is None else img
    return cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))[1].tobytes()


def jpeg_bytes(seed: int = 0) -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(parcel_rgb(seed=seed), cv2.COLOR_RGB2BGR))[1].tobytes()


def tiff16_bytes(width: int = 96, height: int = 64) -> bytes:
    """A raw single-energy scan: 16-bit transmission, bright where X-rays pass."""
    raw = np.full((height, width), 60000, np.uint16)
    raw[10:40, 20:60] = 9000
    buf = io.BytesIO()
    tifffile.imwrite(buf, raw)
    return buf.getvalue()


def dual_energy_npz_bytes(width: int = 96, height: int = 64) -> bytes:
    low = np.full((height, width), 0.9, np.float32)
    high = np.full((height, width), 0.95, np.float32)
    low[10:40, 20:60], high[10:40, 20:60] = 0.2, 0.4
    buf = io.BytesIO()
    np.savez(buf, low=low, high=high)
    return buf.getvalue()
