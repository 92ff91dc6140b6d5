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
scanned item's extent (pixels with a_H > 0.05) is taken to be 500-900 mm long (suitcases and bags), which puts guns and
knives at the sizes seen in SIXray's labelled boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xscreen.datasets.synth.config import SynthConfig
from xscreen.datasets.synth.objects import SceneObject, box, random_pose
from xscreen.datasets.synth.scene import Scene, _pick, render_scene
from xscreen.datasets.synth.shapes import footprint_bounds
from xscreen.datasets.synth.threats import THREAT_BUILDERS
from xscreen.datasets.synth.writer import write_data_yaml
from xscreen.vision.taxonomy import Taxonomy
from xscreen.vision.xray.profiles import ScannerProfile, load_profile
from xscreen.vision.yolo import Box, Label, boxes_to_labels, find_images, label_path, load_data_yaml, read_labels, write_labels

_OBJECT_ATTENUATION = 0.05  # a_H above which a real pixel belongs to the scanned item, not the belt


def _render_alone(obj: SceneObject, pitch: float, profile: ScannerProfile, config: SynthConfig, rng: np.random.Generator):
    """The object's own (a_L, a_H) patch and footprint on a canvas that just holds it."""
    b = np.array([footprint_bounds(s) for s in obj.world_shapes() if s.sign > 0])
    x0, y0, x1, y1 = b[:, 0].min() - 3 * pitch, b[:, 1].min() - 3 * pitch, b[:, 2].max() + 3 * pitch, b[:, 3].max() + 3 * pitch
    w, h = max(int(np.ceil((x1 - x0) / pitch)), 4), max(int(np.ceil((y1 - y0) / pitch)), 4)
    air = SceneObject("air", [box("air", (0.01, 0.01, 0.01))], role="container", extent=(0.01, 0.01, 0.01))
    scene = Scene(air, [obj], (x0, y0, x0 + w * pitch, y0 + h * pitch), pitch, profile.name, w, h)
    out = render_scene(scene, rng, profile=profile, config=config.model_copy(update={"render_scale": 1.0}), detector=False)
    from xscreen.vision.xray.render import attenuation

    a_high = attenuation(out.raw["high"])
    a_low = attenuation(out.raw["low"]) if "low" in out.raw else a_high
    return a_low, a_high, out.footprints[0]


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
    from xscreen.vision.xray.convert import attenuations_from_colour
    from xscreen.vision.xray.render import colour_lut, gray_from_attenuation

    profile = profile or load_profile(None)
    config = config or SynthConfig()
    classes = classes or dict(config.threat_weights)
    for name in classes:
        taxonomy.by_name(name)
    img = np.asarray(real)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"expected (H, W, 3) or (H, W) uint8, got {img.shape} {img.dtype}")
    gray = img.ndim == 2
    if gray:
        a_high_real = -np.log(np.clip(img.astype(np.float32) / 255.0, 1 / 512, 1.0)) / profile.display.gray_gamma
        a_low_real = a_high_real
    else:
        a_low_real, a_high_real = attenuations_from_colour(img, profile)
    h, w = a_high_real.shape
    item = a_high_real > _OBJECT_ATTENUATION
    if pitch_mm is None:
        ys, xs = np.nonzero(item)
        extent_px = max(xs.max() - xs.min(), ys.max() - ys.min()) if len(xs) > 16 else max(h, w)
        pitch_mm = float(rng.uniform(500.0, 900.0)) / max(float(extent_px), 16.0)

    out = img.astype(np.float32)
    boxes: list[Box] = []
    lut = None if gray else colour_lut(profile)
    n = count if count is not None else int(rng.integers(1, 4))
    for _ in range(n):
        cls = _pick(rng, classes)
        builders = THREAT_BUILDERS[cls]
        objs = builders[str(rng.choice(list(builders)))](rng)
        obj = objs[int(rng.integers(0, len(objs)))]
        obj.rotation = random_pose(rng, max_tilt_deg=25.0)
        obj.center = np.zeros(3)
        t_low, t_high, fp = _render_alone(obj, pitch_mm, profile, config, rng)
        ph, pw = t_high.shape
        if fp.box is None or ph >= h or pw >= w:
            continue
        # Centre the threat on a pixel of the scanned item (threats travel inside parcels), fully in frame.
        cy, cx = (np.array(np.nonzero(item))[:, int(rng.integers(0, int(item.sum())))] if item.any() else (h // 2, w // 2))
        y0 = int(np.clip(cy - ph // 2, 0, h - ph))
        x0 = int(np.clip(cx - pw // 2, 0, w - pw))
        win = (slice(y0, y0 + ph), slice(x0, x0 + pw))
        base_h, base_l = a_high_real[win], a_low_real[win]
        new_h, new_l = base_h + t_high, base_l + t_low
        if gray:
            delta = gray_from_attenuation(new_h, profile).astype(np.float32) - gray_from_attenuation(base_h, profile).astype(np.float32)
        else:
            delta = _display(lut, new_l, new_h) - _display(lut, base_l, base_h)
        out[win] += delta
        a_high_real[win], a_low_real[win] = new_h, new_l  # later threats overlap earlier ones physically
        rule = config.labels
        fx0, fy0, fx1, fy1 = fp.box
        fp_mask = t_high > rule.footprint_min_attenuation
        visible = float((fp_mask & (base_h < -np.log(rule.occluded_below_transmission))).sum() / max(fp_mask.sum(), 1))
        contrast = float(t_high[fp_mask].mean()) if fp_mask.any() else 0.0
        if visible >= rule.min_visibility and contrast >= rule.min_mean_attenuation and min(fx1 - fx0, fy1 - fy0) >= rule.min_box_px:
            boxes.append((taxonomy.id_of(cls), x0 + fx0, y0 + fy0, x0 + fx1, y0 + fy1))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), boxes


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
