"""Threat image projection (TIP): synthetic threats composited into real scans in the attenuation domain.

Operational TIP inserts a threat's own X-ray image into a live scan by multiplying transmissions, i.e.
adding attenuations: a = -ln T adds along a ray (Beer-Lambert). A real pseudo-colour scan is only a
display, so we first invert the display map (`convert.attenuations_from_colour`: each colour -> the
(a_L, a_H) pair that renders to it under the profile), add the threat's own (a_L, a_H) rendered from its
3D shapes by the same physics, and render the sum. To keep the real scan's texture, noise and JPEG
character, only the change is applied: out = real + F(a_real + a_threat) - F(a_real), so pixels the
threat does not touch are returned byte-identical. Gray scans go the same way with a_H alone.

Public API:
    project_threats(real, *, rng, taxonomy, profile=None, count=None, classes=None, pitch_mm=None,
                    config=None) -> (composite, boxes)
        real: (H, W, 3) uint8 RGB pseudo-colour or (H, W) uint8 gray. boxes: list of
        (class_id, x1, y1, x2, y2) in pixels for the projected threats that pass the label rule
        (`labels.py`), with visibility judged against the real scan's own attenuation.

    tip_dataset(backgrounds, out_dir, *, count, seed, ...) -> data.yaml path
        composites over a folder of real scans (best an `xscreen data build` output, whose labels are kept),
        written as an ultralytics dataset; `xscreen synth-tip` runs it.

Scale: the real scan's pixel pitch is rarely known. Given `pitch_mm`, it is used; otherwise the
scanned item's extent (`_scanned_item`: pixels above the scan's own empty level) is taken to be 500-900 mm long (suitcases and bags), which puts guns and
knives at the sizes seen in SIXray's labelled boxes (`item_extent_mm`; the drug composites use 300-900 mm, parcels included).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xscreen.datasets.synth.config import SynthConfig
from xscreen.datasets.synth.objects import SceneObject, box, random_pose
from xscreen.datasets.synth.scene import Scene, _pick, pick_builder, render_scene
from xscreen.datasets.synth.shapes import footprint_bounds
from xscreen.datasets.synth.writer import write_data_yaml
from xscreen.vision.taxonomy import Taxonomy
from xscreen.vision.xray.profiles import ScannerProfile, load_profile
from xscreen.vision.xray.render import attenuation_from_gray
from xscreen.vision.yolo import Box, Label, boxes_to_labels, find_images, label_path, load_data_yaml, read_labels, write_labels

_OBJECT_ATTENUATION = 0.05  # a_H above which a real pixel belongs to the scanned item, not the belt


def _render_alone(objs: list[SceneObject], pitch: float, profile: ScannerProfile, config: SynthConfig, rng: np.random.Generator):
    """The objects' own (a_L, a_H) patch (they share one pose) and each labelled object's footprint, on a
    canvas that just holds them."""
    b = np.array([footprint_bounds(s) for o in objs for s in o.world_shapes() if s.sign > 0])
    x0, y0, x1, y1 = b[:, 0].min() - 3 * pitch, b[:, 1].min() - 3 * pitch, b[:, 2].max() + 3 * pitch, b[:, 3].max() + 3 * pitch
    w, h = max(int(np.ceil((x1 - x0) / pitch)), 4), max(int(np.ceil((y1 - y0) / pitch)), 4)
    air = SceneObject("air", [box("air", (0.01, 0.01, 0.01))], role="container", extent=(0.01, 0.01, 0.01))
    scene = Scene(air, list(objs), (x0, y0, x0 + w * pitch, y0 + h * pitch), pitch, profile.name, w, h)
    out = render_scene(scene, rng, profile=profile, config=config.model_copy(update={"render_scale": 1.0}), detector=False)
    from xscreen.vision.xray.render import attenuation

    a_high = attenuation(out.raw["high"])
    a_low = attenuation(out.raw["low"]) if "low" in out.raw else a_high
    return a_low, a_high, list(zip(out.labelled_objects, out.footprints))


@dataclass(frozen=True)
class Projection:
    """One labelled object projected into a real scan, with what decides whether it is trained as a positive.

    contrast: the object's own mean a_H over its footprint (physics: -ln of the transmission it alone
    causes); display_delta: the mean absolute change the projected group makes to the displayed pixels over
    the object's footprint (0-255 levels, all channels), what an officer's eye gets after the scanner's
    display map (a host's own change is included, so the display floor applies to unconcealed items only);
    visibility: the footprint fraction not hidden behind near-opaque matter, the host included.
    """

    class_id: int
    label: str
    box: tuple[float, float, float, float]
    kept: bool
    reason: str
    visibility: float
    contrast: float
    display_delta: float
    area_px: int
    info: dict

    def to_meta(self) -> dict:
        return {"class_id": self.class_id, "label": self.label, "box_xyxy": [round(v, 1) for v in self.box], "kept": self.kept,
                "reason": self.reason, "visibility": round(self.visibility, 3), "contrast": round(self.contrast, 4),
                "display_delta": round(self.display_delta, 2), "area_px": self.area_px, **self.info}


def _scanned_item(a_high: np.ndarray) -> np.ndarray:
    """Pixels of the scanned item, not the belt. A display's white inverts to a small positive a_H (254
    reads as about 0.08 through SIXray's palette), so the threshold sits above the scan's own empty level
    (its 5th percentile); an opening drops JPEG speckle in the empty area."""
    import cv2

    empty = float(np.percentile(a_high, 5))
    mask = (a_high > max(_OBJECT_ATTENUATION, empty + _OBJECT_ATTENUATION)).astype(np.uint8)
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    return (opened if opened.any() else mask).astype(bool)


class ProjectionCanvas:
    """A real scan in the attenuation domain, into which object groups are projected one after another."""

    def __init__(self, real: np.ndarray, *, rng: np.random.Generator, taxonomy: Taxonomy, profile: ScannerProfile,
                 config: SynthConfig, pitch_mm: float | None = None, item_extent_mm: tuple[float, float] = (500.0, 900.0)) -> None:
        from xscreen.vision.xray.convert import attenuations_from_colour
        from xscreen.vision.xray.render import colour_lut

        img = np.asarray(real)
        if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
            raise ValueError(f"expected (H, W, 3) or (H, W) uint8, got {img.shape} {img.dtype}")
        self.rng, self.taxonomy, self.profile, self.config = rng, taxonomy, profile, config
        self.gray = img.ndim == 2
        if self.gray:
            self.a_high = attenuation_from_gray(img, profile)
            self.a_low = self.a_high
        else:
            self.a_low, self.a_high = attenuations_from_colour(img, profile)
        h, w = self.a_high.shape
        self.item = _scanned_item(self.a_high)
        if pitch_mm is None:
            ys, xs = np.nonzero(self.item)
            extent_px = max(xs.max() - xs.min(), ys.max() - ys.min()) if len(xs) > 16 else max(h, w)
            pitch_mm = float(rng.uniform(*item_extent_mm)) / max(float(extent_px), 16.0)
        self.pitch_mm = float(pitch_mm)
        self.out = img.astype(np.float32)
        self.lut = None if self.gray else colour_lut(profile)

    def project(self, objs: list[SceneObject], info: dict | None = None, max_tilt_deg: float = 25.0) -> list[Projection]:
        """Pose the group at random on the scanned item, add its attenuation; one Projection per labelled object."""
        from xscreen.vision.xray.render import gray_from_attenuation

        pose = random_pose(self.rng, max_tilt_deg=max_tilt_deg)
        for o in objs:
            o.rotation, o.center = pose, np.zeros(3)
        t_low, t_high, labelled = _render_alone(objs, self.pitch_mm, self.profile, self.config, self.rng)
        h, w = self.a_high.shape
        ph, pw = t_high.shape
        if not labelled or ph >= h or pw >= w:
            return []
        # Centre the group on a pixel of the scanned item (threats travel inside parcels), fully in frame.
        item = self.item
        cy, cx = (np.array(np.nonzero(item))[:, int(self.rng.integers(0, int(item.sum())))] if item.any() else (h // 2, w // 2))
        y0 = int(np.clip(cy - ph // 2, 0, h - ph))
        x0 = int(np.clip(cx - pw // 2, 0, w - pw))
        win = (slice(y0, y0 + ph), slice(x0, x0 + pw))
        base_h, base_l = self.a_high[win], self.a_low[win]
        new_h, new_l = base_h + t_high, base_l + t_low
        if self.gray:
            delta = gray_from_attenuation(new_h, self.profile).astype(np.float32) - gray_from_attenuation(base_h, self.profile).astype(np.float32)
        else:
            assert self.lut is not None  # built for every colour scan
            delta = _display(self.lut, new_l, new_h) - _display(self.lut, base_l, base_h)
        self.out[win] += delta
        self.a_high[win], self.a_low[win] = new_h, new_l  # later groups overlap earlier ones physically
        rule = self.config.labels
        change = np.abs(delta) if delta.ndim == 2 else np.abs(delta).mean(axis=2)
        projections = []
        for obj, fp in labelled:
            if fp.box is None:
                continue
            fx0, fy0, fx1, fy1 = fp.box
            # This object's own footprint inside the group's patch (a host's attenuation is not the drug's).
            own = np.zeros_like(t_high, dtype=bool)
            own[int(fy0):int(np.ceil(fy1)), int(fx0):int(np.ceil(fx1))] = True
            fp_mask = own & (t_high > rule.footprint_min_attenuation)
            visible = float((fp_mask & (base_h < -np.log(rule.occluded_below_transmission))).sum() / max(fp_mask.sum(), 1))
            visible = min(visible, fp.visibility)  # and not hidden behind its own host
            display_delta = float(change[fp_mask].mean()) if fp_mask.any() else 0.0
            contrast = fp.contrast
            reason = ""
            if visible < rule.min_visibility:
                reason = f"hidden: {visible:.2f} of the footprint visible"
            elif contrast < rule.min_mean_attenuation:
                reason = f"too faint: mean own attenuation {contrast:.3f}"
            elif display_delta < rule.min_display_delta and len(labelled) == len(objs):  # with a host, the change is partly the host's
                reason = f"too faint on the display: {display_delta:.1f} levels"
            elif min(fx1 - fx0, fy1 - fy0) < rule.min_box_px:
                reason = "too small"
            projections.append(Projection(self.taxonomy.id_of(obj.label or ""), obj.label or "", (x0 + fx0, y0 + fy0, x0 + fx1, y0 + fy1),
                                          not reason, reason, visible, contrast, display_delta, fp.area_px, {**obj.info, **(info or {})}))
        return projections

    def image(self) -> np.ndarray:
        return np.clip(self.out + 0.5, 0, 255).astype(np.uint8)


def random_threat(rng: np.random.Generator, cls: str, config: SynthConfig | None = None) -> SceneObject:
    """One object of class `cls` from one of its builders, drawn by `config.builder_weights` (a builder may
    make a group: one of them)."""
    objs = pick_builder(rng, cls, config or SynthConfig())(rng)
    return objs[int(rng.integers(0, len(objs)))]


def project_threats(
    real: np.ndarray,
    *,
    rng: np.random.Generator,
    taxonomy: Taxonomy,
    profile: ScannerProfile | None = None,
    count: int | None = None,
    classes: dict[str, float] | None = None,
    pitch_mm: float | None = None,
    config: SynthConfig | None = None,
) -> tuple[np.ndarray, list[Box]]:
    """Composite 1..3 (or `count`) synthetic threats into a real scan; see the module docstring."""
    profile = profile or load_profile(None)
    config = config or SynthConfig()
    classes = classes or dict(config.threat_weights)
    for name in classes:
        taxonomy.by_name(name)
    canvas = ProjectionCanvas(real, rng=rng, taxonomy=taxonomy, profile=profile, config=config, pitch_mm=pitch_mm)
    boxes: list[Box] = []
    n = count if count is not None else int(rng.integers(1, 4))
    for _ in range(n):
        boxes += [(p.class_id, *p.box) for p in canvas.project([random_threat(rng, _pick(rng, classes), config)]) if p.kept]
    return canvas.image(), boxes


def _display(lut: np.ndarray, a_low: np.ndarray, a_high: np.ndarray) -> np.ndarray:
    import cv2

    from xscreen.vision.xray.render import A_MAX, COLOUR_LUT_SHAPE, R_RANGE

    ratio = a_low / np.maximum(a_high, np.float32(0.02))
    x = (a_high * np.float32((COLOUR_LUT_SHAPE[1] - 1) / A_MAX)).astype(np.float32)
    y = ((ratio - np.float32(R_RANGE[0])) * np.float32((COLOUR_LUT_SHAPE[0] - 1) / (R_RANGE[1] - R_RANGE[0]))).astype(np.float32)
    return cv2.remap(lut, x, y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _background_images(root: Path) -> list[Path]:
    base = root / "images" if (root / "images").is_dir() else root
    return list(find_images(base))


def _background_labels(image: Path, ids: list[int] | None) -> list[Label]:
    """The background's own labels, re-numbered into the taxonomy (needs the set's data.yaml)."""
    if ids is None:
        return []
    return [label._replace(class_id=ids[label.class_id]) for label in read_labels(label_path(image))]


def tip_dataset(backgrounds: Path, out_dir: Path, *, count: int, seed: int, classes: dict[str, float] | None = None, pitch_mm: float | None = None,
                progress: bool = True, taxonomy: Taxonomy | None = None) -> Path:
    """Write `count` TIP composites over the scans under `backgrounds` as an ultralytics dataset.

    `backgrounds` is best a dataset with images/<split>/..., labels/<split>/... and a data.yaml whose class
    names are taxonomy names (an `xscreen data build` output): the background's own labels are kept and each
    composite stays in its background's split. A bare folder of scans works too, but objects already in
    those scans are then unlabelled (logged). Composite i uses rng (seed, i): same seed, same bytes.
    Returns the data.yaml path.
    """
    import json
    import logging

    import cv2

    from xscreen.datasets.synth.writer import _progress
    from xscreen.errors import DatasetError
    from xscreen.vision.taxonomy import load_taxonomy

    log = logging.getLogger(__name__)
    taxonomy = taxonomy or load_taxonomy()
    backgrounds, out_dir = Path(backgrounds), Path(out_dir)
    images = _background_images(backgrounds)
    if not images:
        raise DatasetError(f"no scans found under {backgrounds}")
    ids: list[int] | None = None
    data_yaml = backgrounds / "data.yaml"
    if data_yaml.is_file() and (backgrounds / "images").is_dir():
        names = load_data_yaml(data_yaml).names
        unknown = [n for n in names if n not in taxonomy.names]
        if unknown:
            raise DatasetError(f"{data_yaml}: class names {unknown} are not in the taxonomy")
        ids = [taxonomy.id_of(n) for n in names]
    else:
        log.warning("%s has no data.yaml with images/ and labels/: objects already in its scans stay unlabelled", backgrounds)
    profile = load_profile(None)
    cfg = SynthConfig()
    splits_seen: set[str] = set()
    with _progress(progress, count) as advance:
        for i in range(count):
            rng = np.random.default_rng([seed, i])
            bg = images[int(rng.integers(0, len(images)))]
            rel_parts = bg.relative_to(backgrounds / "images").parts if ids is not None else ()
            split = rel_parts[0] if len(rel_parts) > 1 and rel_parts[0] in ("train", "val", "test") else "train"
            bgr = cv2.imread(str(bg), cv2.IMREAD_UNCHANGED)
            if bgr is None:
                raise DatasetError(f"cannot decode {bg}")
            real = bgr if bgr.ndim == 2 else cv2.cvtColor(bgr[..., :3], cv2.COLOR_BGR2RGB)
            out, boxes = project_threats(real, rng=rng, taxonomy=taxonomy, profile=profile, classes=classes, pitch_mm=pitch_mm, config=cfg)
            h, w = out.shape[:2]
            labels = _background_labels(bg, ids) + boxes_to_labels(boxes, w, h)
            name = f"tip_{i:07d}"
            for sub in ("images", "labels", "meta"):
                (out_dir / sub / split).mkdir(parents=True, exist_ok=True)
            splits_seen.add(split)
            img = out if out.ndim == 2 else cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(out_dir / "images" / split / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            write_labels(out_dir / "labels" / split / f"{name}.txt", labels)
            meta = {"name": name, "seed": seed, "index": i, "background": str(bg), "projected": [list(b) for b in boxes]}
            (out_dir / "meta" / split / f"{name}.json").write_text(json.dumps(meta))
            advance()
    return write_data_yaml(out_dir, taxonomy, splits_seen)
