"""X-ray augmentation for ultralytics training, grounded in the same physics as the synthetic renderer.

Which ultralytics augmentations stay on and which are off (see docs/training.md for the reasoning):
- ON: mosaic, translate, scale (another pixel pitch), left-right and up-down flips (a parcel lies any way
  up on the belt), small value jitter (tube current and detector gain change brightness uniformly).
- OFF: hue and saturation jitter (hue encodes the effective atomic number: orange organic, green mixed,
  blue metal; shifting it turns drugs into metal), mixup (pixel averaging is not how X-ray overlaps combine:
  transmissions multiply; threat image projection does that correctly), copy-paste (needs masks),
  perspective and shear (line scanners do not produce them).
- ADDED here: the single-energy view (colour -> gray by attenuation, not an RGB average, then shown as a
  colour model sees any gray scan, `gray_to_colour`) and scanner-profile variation (palette, blur, sharpening, noise) drawn from `configs/scanners/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
            from xscreen.vision.xray.profiles import apply_profile

            profile = self._profiles()[int(self._rng.integers(len(self._profiles())))]
            rgb = apply_profile(rgb, profile, self._rng)
            if rgb.ndim == 2:  # a single-energy profile gives gray: show it as the engine shows gray scans
                from xscreen.vision.xray.convert import gray_to_colour

                rgb = gray_to_colour(rgb)
            changed = True
        if self.p_gray > 0 and self._rng.random() < self.p_gray:
            # Exactly what a colour model is shown of a single-energy scan at inference
            # (`Engine.model_image`): the physics gray view, re-coloured by `gray_to_colour`.
            from xscreen.vision.xray.convert import colour_to_gray, gray_to_colour

            rgb = gray_to_colour(colour_to_gray(rgb))
            changed = True
        if changed:
            labels["img"] = np.ascontiguousarray(rgb[..., ::-1])
        return labels


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
