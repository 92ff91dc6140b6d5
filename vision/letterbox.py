"""Letterbox: resize keeping the aspect ratio, pad to the model's input, and map boxes both ways.

The geometry is ultralytics' `LetterBox` (ultralytics/data/augment.py, 8.4) with `center=True`: `auto=False`
pads to the full square, `rect_shape` gives the minimal stride-aligned rectangle of `auto=True` (what its
predict feeds a dynamic-shape model). One scale r = min(H_out/h, W_out/w), each resized side
`max(round(side * r), 1)`, the padding split as `round(d/2 - 0.1)` before and the rest after, pad value 114,
bilinear interpolation. Boxes go back as ultralytics' `scale_boxes` does: minus the padding, divided by the
per-axis gain of the rounded sides, clipped to the image. Matching it to the pixel is what lets the parity
test hold boxes within 1 px and scores within 1e-3 of ultralytics' own predict.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


@dataclass(frozen=True)
class LetterboxMapping:
    """How one original image sits inside the model input."""

    orig_shape: tuple[int, int]  # (h, w) of the original image
    new_shape: tuple[int, int]  # (H, W) of the model input
    resized_shape: tuple[int, int]  # (h', w') of the image inside the padding
    pad_top: int
    pad_left: int

    @property
    def gain_x(self) -> float:
        return self.resized_shape[1] / self.orig_shape[1]

    @property
    def gain_y(self) -> float:
        return self.resized_shape[0] / self.orig_shape[0]

    def to_original(self, xyxy: np.ndarray) -> np.ndarray:
        """Boxes from model-input pixels to original pixels, clipped to the image (a new array)."""
        boxes = np.array(xyxy, dtype=np.float32, copy=True).reshape(-1, 4)
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - self.pad_left) / self.gain_x
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - self.pad_top) / self.gain_y
        h, w = self.orig_shape
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return boxes

    def to_input(self, xyxy: np.ndarray) -> np.ndarray:
        """Boxes from original pixels to model-input pixels (labels moving with the pixels)."""
        boxes = np.array(xyxy, dtype=np.float32, copy=True).reshape(-1, 4)
        boxes[:, [0, 2]] = boxes[:, [0, 2]] * self.gain_x + self.pad_left
        boxes[:, [1, 3]] = boxes[:, [1, 3]] * self.gain_y + self.pad_top
        return boxes


def rect_shape(orig_shape: tuple[int, int], imgsz: tuple[int, int], *, stride: int = 32, scaleup: bool = True) -> tuple[int, int]:
    """The smallest (H, W) holding the image letterboxed for `imgsz`, each side `stride`-aligned with the
    remainder padded as ultralytics' `LetterBox(auto=True)` does: what its predict feeds a dynamic ONNX model
    one image at a time (512 x 320 for a 1725 x 1038 scan at imgsz 512: 62 % of the square's pixels)."""
    resized = letterbox_params(orig_shape, imgsz, scaleup=scaleup).resized_shape
    return resized[0] + (imgsz[0] - resized[0]) % stride, resized[1] + (imgsz[1] - resized[1]) % stride


def letterbox_params(
    orig_shape: tuple[int, int], new_shape: int | tuple[int, int], *, scaleup: bool = True, fit: tuple[int, int] | None = None
) -> LetterboxMapping:
    """The geometry alone (no pixels touched). The scale fits the image into `fit` (default `new_shape`), so an
    image keeps the scale of the square input inside a smaller batch rectangle (`rect_shape`)."""
    if isinstance(new_shape, int):
        new_shape = (new_shape, new_shape)
    fit = fit or new_shape
    h, w = int(orig_shape[0]), int(orig_shape[1])
    r = min(fit[0] / h, fit[1] / w)
    if not scaleup:
        r = min(r, 1.0)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = (new_shape[1] - new_w) / 2, (new_shape[0] - new_h) / 2
    return LetterboxMapping(
        orig_shape=(h, w),
        new_shape=(int(new_shape[0]), int(new_shape[1])),
        resized_shape=(new_h, new_w),
        pad_top=round(dh - 0.1),
        pad_left=round(dw - 0.1),
    )


def letterbox(
    image: np.ndarray,
    new_shape: int | tuple[int, int],
    *,
    pad_value: int = 114,
    interpolation: str = "linear",
    scaleup: bool = True,
    fit: tuple[int, int] | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, LetterboxMapping]:
    """Resize and pad an (h, w, c) image into `new_shape`; returns the padded image and its mapping.

    `fit`: scale as for this shape instead (`letterbox_params`). `out`, an (H, W, c) array, is filled in place
    (a slot of a batch buffer) instead of allocating.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {interpolation!r}")
    mapping = letterbox_params(image.shape[:2], new_shape, scaleup=scaleup, fit=fit)
    new_h, new_w = mapping.resized_shape
    if image.shape[:2] != (new_h, new_w):
        image = cv2.resize(image, (new_w, new_h), interpolation=INTERPOLATIONS[interpolation])
    if image.ndim == 2:
        image = image[..., None]
    H, W = mapping.new_shape
    if out is None:
        out = np.empty((H, W, image.shape[2]), dtype=image.dtype)
    elif out.shape != (H, W, image.shape[2]):
        raise ValueError(f"out must have shape {(H, W, image.shape[2])}, got {out.shape}")
    top, left = mapping.pad_top, mapping.pad_left
    # Fill only the borders: a full fill would write every pixel twice.
    out[:top] = pad_value
    out[top + new_h :] = pad_value
    out[top : top + new_h, :left] = pad_value
    out[top : top + new_h, left + new_w :] = pad_value
    out[top : top + new_h, left : left + new_w] = image
    return out, mapping
