"""Annotated images for people: boxes and class labels drawn over a scan (service, `xscreen predict`, batch).

Colours follow the category, not the class, so an operator reads the kind of threat at a glance; labels
are looked up in the taxonomy at drawing time. Line width and font scale grow with the image, so a
3,000-pixel strip and a 400-pixel thumbnail both stay legible.
"""

from __future__ import annotations

import cv2
import numpy as np

from xscreen.vision.detections import Detections
from xscreen.vision.taxonomy import Taxonomy, load_taxonomy

# RGB, chosen to stand apart from the orange / green / blue of pseudo-colour X-ray palettes.
CATEGORY_COLOURS: dict[str, tuple[int, int, int]] = {
    "firearms": (255, 0, 64),
    "weapons": (255, 0, 255),
    "drugs": (255, 230, 0),
    "benign": (0, 255, 255),
}


def draw_detections(image: np.ndarray, detections: Detections, *, taxonomy: Taxonomy | None = None) -> np.ndarray:
    """A copy of an RGB (H, W, 3) uint8 image (gray (H, W) is accepted) with each detection boxed and labelled."""
    taxonomy = taxonomy or load_taxonomy()
    canvas = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image.copy()
    if canvas.ndim != 3 or canvas.shape[2] != 3 or canvas.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 (H, W, 3) image, got {image.shape} {image.dtype}")
    canvas = np.ascontiguousarray(canvas)
    height, width = canvas.shape[:2]
    thickness = max(1, round(max(height, width) / 500))
    font_scale = max(0.4, max(height, width) / 1500)
    # Lowest score first, so the most confident box and label end up on top.
    for i in np.argsort(detections.scores, kind="stable"):
        box, score, class_id = detections.xyxy[i], float(detections.scores[i]), int(detections.class_ids[i])
        cls = taxonomy.by_id(class_id)
        colour = CATEGORY_COLOURS.get(cls.category, (255, 255, 255))
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        label = f"{cls.name} {score:.2f}"
        (tw, th), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, max(1, thickness - 1))
        # Label above the box, or inside it when the box touches the top edge.
        top = y1 - th - baseline - 2 if y1 - th - baseline - 2 >= 0 else y1
        left = min(max(x1, 0), max(width - tw - 2, 0))
        cv2.rectangle(canvas, (left, top), (left + tw + 2, top + th + baseline + 2), colour, -1)
        cv2.putText(canvas, label, (left + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), max(1, thickness - 1), cv2.LINE_AA)
    return canvas


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB (or gray) uint8 image."""
    array = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    ok, buf = cv2.imencode(".png", array)
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def annotated_png(image: np.ndarray, detections: Detections, *, taxonomy: Taxonomy | None = None) -> bytes:
    """What the service stores and returns as the annotated scan."""
    return encode_png(draw_detections(image, detections, taxonomy=taxonomy))
