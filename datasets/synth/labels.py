"""Labels from projected footprints, with a visibility measure and a documented keep/drop rule.

A labelled object's footprint is the set of pixels where the object alone attenuates the high-energy
channel by more than `footprint_min_attenuation` (a_H = -ln T_H), computed from its own areal densities,
so the box hugs what the beam sees (a tilted barrel's projection, not its 3D bounding box; a thin bag
around tablets does not count). Two fractions describe how much of it a screener or a detector can see:
- in_frame: footprint pixels inside the scan / all footprint pixels (objects can run past an edge);
- visibility: in-frame footprint pixels where everything else on the ray still passes at least
  `occluded_below_transmission` of the high channel / in-frame footprint pixels.
Rule: a label is kept when in_frame >= min_in_frame, visibility >= min_visibility, the object's own
mean a_H over its footprint is at least min_mean_attenuation (a 1 mm film of powder is invisible to a
screener and to a detector: labelling it would teach hallucination), and the clipped box is at least
min_box_px on each side; otherwise the object stays in the image and in the metadata
(with `kept: false` and the reason), but gets no YOLO row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from xscreen.vision.taxonomy import Taxonomy
from xscreen.vision.yolo import Label


@dataclass(frozen=True)
class Footprint:
    label: str
    box: tuple[float, float, float, float] | None  # x0, y0, x1, y1 pixels (exclusive ends), clipped to the scan
    area_px: int
    in_frame: float
    visibility: float
    kept: bool
    reason: str = ""
    contrast: float = 0.0  # the object's own mean a_H over its footprint


    def scaled(self, sx: float, sy: float, width: int, height: int) -> "Footprint":
        """The same footprint on an image resized by (sx, sy)."""
        if self.box is None:
            return self
        x0, y0, x1, y1 = self.box
        box = (max(x0 * sx, 0.0), max(y0 * sy, 0.0), min(x1 * sx, float(width)), min(y1 * sy, float(height)))
        return replace(self, box=box, area_px=int(round(self.area_px * sx * sy)))

    def to_meta(self) -> dict:
        return {
            "label": self.label,
            "box_xyxy": None if self.box is None else [round(v, 1) for v in self.box],
            "area_px": self.area_px,
            "in_frame": round(self.in_frame, 3),
            "visibility": round(self.visibility, 3),
            "kept": self.kept,
            "reason": self.reason,
            "contrast": round(self.contrast, 4),
        }


def measure_footprint(label: str, window: tuple[int, int, int, int], own_a: np.ndarray, own_b: np.ndarray, scene_a: np.ndarray, scene_b: np.ndarray, model, rule) -> Footprint:
    i0, j0, i1, j1 = window
    t_own = model.transmission(own_a, own_b)["high"]
    fp = t_own < np.exp(-rule.footprint_min_attenuation)
    total = int(fp.sum())
    if total == 0:
        return Footprint(label, None, 0, 0.0, 0.0, False, "no footprint")
    h, w = scene_a.shape
    ci0, cj0, ci1, cj1 = max(i0, 0), max(j0, 0), min(i1, h), min(j1, w)
    inner = fp[ci0 - i0 : ci1 - i0, cj0 - j0 : cj1 - j0] if ci1 > ci0 and cj1 > cj0 else np.zeros((0, 0), bool)
    n_in = int(inner.sum())
    in_frame = n_in / total
    if n_in == 0:
        return Footprint(label, None, total, 0.0, 0.0, False, "outside the scan")
    sa = scene_a[ci0:ci1, cj0:cj1] - own_a[ci0 - i0 : ci1 - i0, cj0 - j0 : cj1 - j0]
    sb = scene_b[ci0:ci1, cj0:cj1] - own_b[ci0 - i0 : ci1 - i0, cj0 - j0 : cj1 - j0]
    t_rest = model.transmission(sa, sb)["high"]
    visibility = float((inner & (t_rest >= rule.occluded_below_transmission)).sum() / n_in)
    contrast = float(-np.log(np.maximum(t_own[fp], 1e-6)).mean())
    rows, cols = np.nonzero(inner)
    box = (float(cols.min() + cj0), float(rows.min() + ci0), float(cols.max() + cj0 + 1), float(rows.max() + ci0 + 1))
    reason = ""
    if in_frame < rule.min_in_frame:
        reason = f"cut off: {in_frame:.2f} of the footprint in the scan"
    elif visibility < rule.min_visibility:
        reason = f"hidden: {visibility:.2f} of the footprint visible"
    elif contrast < rule.min_mean_attenuation:
        reason = f"too faint: mean own attenuation {contrast:.3f}"
    elif min(box[2] - box[0], box[3] - box[1]) < rule.min_box_px:
        reason = "too small"
    return Footprint(label, box, total, in_frame, visibility, not reason, reason, contrast)


def yolo_rows(footprints: list[Footprint], taxonomy: Taxonomy, width: int, height: int, scale: float = 1.0) -> list[Label]:
    """YOLO labels for the kept footprints; `scale` maps render to output pixels."""
    rows = []
    for fp in footprints:
        if not fp.kept or fp.box is None:
            continue
        x0, y0, x1, y1 = (v * scale for v in fp.box)
        rows.append(Label.from_box((taxonomy.id_of(fp.label), x0, y0, x1, y1), width, height))
    return rows
