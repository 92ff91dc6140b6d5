"""X-ray augmentation for ultralytics training, grounded in the same physics as the synthetic renderer.

Which ultralytics augmentations stay on and which are off (see docs/training.md for the reasoning):
- ON: mosaic, translate, scale (another pixel pitch), left-right and up-down flips (a parcel lies any way
  up on the belt), small value jitter (tube current and detector gain change brightness uniformly).
- OFF: hue and saturation jitter (hue encodes the effective atomic number: orange organic, green mixed,
  blue metal; shifting it turns drugs into metal), mixup (pixel averaging is not how X-ray overlaps combine:
  transmissions multiply; threat image projection does that correctly), copy-paste (needs masks),
  perspective and shear (line scanners do not produce them).
- ADDED here: the single-energy view (colour -> gray by attenuation, not an RGB average, then shown as a
  colour model is shown any gray scan at inference, `vision.engine.model_image` with the card's `gray_input`) and scanner-profile variation (palette, blur, sharpening, noise) drawn from `configs/scanners/`
  by `apply_profile`, which pushes a real scan towards a profile (pitch, tube voltage and palette, blur,
  sharpening, noise, gray conversion).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from xscreen.vision.xray.profiles import ScannerProfile

# Ultralytics hyperparameters that encode the rules above; train configs may override any of them.
XRAY_HYPERPARAMETERS: dict[str, Any] = {
    "hsv_h": 0.0,
    "hsv_s": 0.0,
    "hsv_v": 0.15,
    "degrees": 0.0,
    "shear": 0.0,
    "perspective": 0.0,
    "translate": 0.1,
    "scale": 0.5,
    "fliplr": 0.5,
    "flipud": 0.5,
    "mosaic": 1.0,
    "mixup": 0.0,
    "cutmix": 0.0,
    "copy_paste": 0.0,
}


@dataclass
class XrayAugment:
    """A transform for ultralytics' dataset pipeline: takes and returns the labels dict (image in BGR).

    Geometry is untouched, so boxes stay valid. `profiles` names scanner profiles to draw from.
    """

    p_gray: float = 0.2
    p_profile: float = 0.3
    profiles: list[str] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self._pid = os.getpid()
        self._rng = np.random.default_rng(self.seed)
        self._loaded: list[Any] | None = None

    def _reseed_in_worker(self) -> None:
        # Forked dataloader workers inherit one RNG state; give each its own stream.
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._rng = np.random.default_rng([self.seed, self._pid])

    def __getstate__(self) -> dict[str, Any]:  # dataloader workers: reload profiles lazily
        state = self.__dict__.copy()
        state["_loaded"] = None
        return state

    def _profiles(self) -> list[Any]:
        if self._loaded is None:
            from xscreen.vision.xray.profiles import list_profiles, load_profile

            names = self.profiles or list_profiles()
            self._loaded = [load_profile(n) for n in names]
        return self._loaded

    def __call__(self, labels: dict[str, Any]) -> dict[str, Any]:
        self._reseed_in_worker()
        img = labels["img"]
        if img.ndim != 3 or img.shape[2] != 3:
            return labels
        rgb = np.ascontiguousarray(img[..., ::-1])
        changed = False
        if self.p_profile > 0 and self._rng.random() < self.p_profile and self._profiles():
            profile = self._profiles()[int(self._rng.integers(len(self._profiles())))]
            rgb = apply_profile(rgb, profile, self._rng)
            if rgb.ndim == 2:  # a single-energy profile gives gray: show it as the engine shows gray scans
                rgb = as_stations_show_gray(rgb)
            changed = True
        if self.p_gray > 0 and self._rng.random() < self.p_gray:
            from xscreen.vision.xray.convert import colour_to_gray

            rgb = as_stations_show_gray(colour_to_gray(rgb))
            changed = True
        if changed:
            labels["img"] = np.ascontiguousarray(rgb[..., ::-1])
        return labels


def as_stations_show_gray(gray: np.ndarray) -> np.ndarray:
    """Exactly what a colour model is shown of a single-energy scan at inference (`vision.engine.model_image`
    under the input spec export writes into the card), so training and stations agree on the gray path."""
    from xscreen.vision.engine import model_image
    from xscreen.vision.registry import InputSpec
    from xscreen.vision.scan import Scan

    return model_image(Scan(gray, "gray"), InputSpec(imgsz=1))  # imgsz plays no part in the conversion


def install(dataset: Any, augment: XrayAugment) -> None:
    """Insert `augment` before ultralytics' Format step, now and whenever the dataset rebuilds its
    transforms (it does at `close_mosaic`)."""
    build = dataset.build_transforms

    def build_with_xray(hyp: Any = None) -> Any:
        transforms = build(hyp)
        transforms.insert(len(transforms.transforms) - 1, augment)
        return transforms

    dataset.build_transforms = build_with_xray
    dataset.transforms.insert(len(dataset.transforms.transforms) - 1, augment)


def apply_profile(image: np.ndarray, profile: ScannerProfile, rng: np.random.Generator, *, source_pitch_mm: float | None = None) -> np.ndarray:
    """Make a uint8 scan (H, W, 3 pseudo-colour or H, W gray) look as if `profile`'s scanner took it.

    Steps, each grounded in what differs between scanners: rescale from `source_pitch_mm` to the
    profile's pitch (times a sampled factor), gray conversion by attenuation for single-energy profiles
    (`convert.colour_to_gray`, not an RGB average), for colour profiles the scan re-shown through the
    profile's palette with another tube voltage's attenuation (`convert.recolour`) plus a small hue and
    saturation change within the profile's range, extra blur, the profile's edge enhancement, and noise.
    Boxes scale with the image by `image.shape` ratio: callers rescale their labels by the output size.
    """
    from xscreen.vision.xray.convert import colour_to_gray, gray_to_colour, recolour, rescale_pitch
    from xscreen.vision.xray.render import unsharp

    out = np.asarray(image)
    aug = profile.augment
    if source_pitch_mm is not None:
        target = profile.detector.pixel_pitch_mm * float(rng.uniform(*aug.pitch_scale))
        out = rescale_pitch(out, source_pitch_mm, target)
    if profile.kind == "gray":
        out = colour_to_gray(out) if out.ndim == 3 else out
    else:
        if out.ndim == 2:
            out = gray_to_colour(out)
        out = recolour(out, profile, float(rng.uniform(*aug.beam_softening)))
        out = _palette_shift(out, float(rng.uniform(-aug.hue_shift_deg, aug.hue_shift_deg)), float(rng.uniform(*aug.saturation_scale)))
    sigma = float(rng.uniform(*aug.extra_blur_sigma_px))
    if sigma > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    if profile.display.edge_enhance > 0:
        out = unsharp(out, profile.display.edge_enhance)
    noise = float(rng.uniform(*aug.noise_sigma))
    if noise > 0:
        out = np.clip(out.astype(np.float32) + rng.standard_normal(out.shape, dtype=np.float32) * noise, 0, 255).astype(np.uint8)
    return out


def _palette_shift(rgb: np.ndarray, hue_deg: float, sat_scale: float) -> np.ndarray:
    """Shift hue and scale saturation; white background stays white (its saturation is zero)."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + int(round(hue_deg * 256 / 360))) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * sat_scale, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)
