"""Conversions between image kinds, grounded in the rendering's physics.

Public API (the inference engine and training augmentation use these):
    colour_to_gray(rgb, profile=None) -> (H, W) uint8
        A pseudo-colour scan -> the single-energy gray view of the same scan. Not an RGB average: each
        colour is traced back through the profile's display mapping (material class z, attenuation a_H)
        to a_H, the high-energy attenuation, and shown as `render_gray` shows a_H. The inverse is a
        32^3 table built once per profile by nearest neighbour in RGB over the forward (z, a_H) -> RGB
        map, so it also accepts scans from other scanners' palettes (their colours land on the closest
        colour of ours) and JPEG noise.
    gray_to_colour(gray, profile=None) -> (H, W, 3) uint8
        A gray (single-energy) scan shown to a colour model. Gray has no material information; the
        choice: a_H is recovered exactly from the gray level, and the material class is assumed from
        a_H alone (light attenuation organic, medium mixed, strong metal: in parcels, strong attenuation
        is nearly always metal). The result uses the same palette as real dual-energy renders, so a
        colour model sees gray scans as plausible colour scans whose hue is uninformative.
    recolour(rgb, target, beam_softening=0.0, source=None) -> (H, W, 3) uint8
        The same scan on another dual-energy scanner: each colour traced back to (a_H, material class z)
        under `source`'s display, the attenuation changed as another tube voltage changes it, and shown
        through `target`'s palette. A softer beam (lower kV) raises a_H more for high-Z matter
        (photoelectric absorption grows ~Z^4/E^3): ln(a'/a) = s * w(z), w = 1, 2.4, 5 at z = 0, 1, 2.
        These weights fit the profiles' own spectra: from 160 kV to 100 kV, s = 0.12 (water x1.13,
        aluminium x1.34, steel x1.84; 120 kV: s = 0.08).
    rescale_pitch(image, src_pitch_mm, dst_pitch_mm) -> image resampled to another pixel pitch.
    material_from_colour(rgb, profile=None) -> (a_H, z)
        What a colour pixel says of the matter under it (the declaration rules' material measure).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from xscreen.resources import SCANNERS_DIR
from xscreen.vision.xray.profiles import ScannerProfile
from xscreen.vision.xray.render import (
    A_MAX,
    COLOUR_LUT_SHAPE,
    _resolve,
    attenuation_from_gray,
    colour_lut,
    gray_from_attenuation,
    material_class,
    palette_colour,
    reference_curves,
)

_Q = 8  # colour quantisation step of the inverse table (32 levels per channel)
_N = 256 // _Q
_BITS = _N.bit_length() - 1  # bits per channel of a quantised colour (5)
GRAY_Z_RAMP = ((0.7, 1.6), (2.4, 3.6))  # a_H where the assumed class moves organic->mixed, mixed->metal
SOFTENING_WEIGHTS = (1.0, 2.4, 5.0)  # w(z) at z = 0, 1, 2 (see recolour)
_Z_STEPS = 65  # rows of the (z, a_H) -> RGB table recolour reads


def _table_key(profile: ScannerProfile) -> str:
    return hashlib.sha256(profile.model_dump_json().encode()).hexdigest()


def shipped_table_path(profile: ScannerProfile) -> Path:
    return SCANNERS_DIR / f"{profile.name}.colour-inverse.npz"


@lru_cache(maxsize=8)
def _inverse_table(profile: ScannerProfile) -> np.ndarray:
    """The profile's inverse table: the copy shipped beside its YAML when it was built from this very profile,
    else built here. Building it takes the physics (the beam's spectrum, ~900 polychromatic transmissions):
    4.4 s, which every `xscreen predict` and the service's first colour scan paid for the image-quality gate.
    `tests/vision/xray/test_convert.py` checks the shipped copy equals a fresh build."""
    path = shipped_table_path(profile)
    if path.exists():
        with np.load(path) as shipped:
            if str(shipped["key"]) == _table_key(profile):
                return np.asarray(shipped["table"])
    return build_inverse_table(profile)


def write_inverse_table(profile: ScannerProfile | None = None) -> Path:
    """Rebuild a profile's shipped inverse table (after the profile or the rendering changed)."""
    profile = _resolve(profile)
    path = shipped_table_path(profile)
    np.savez_compressed(path, key=np.array(_table_key(profile)), table=build_inverse_table(profile))
    return path


def build_inverse_table(profile: ScannerProfile) -> np.ndarray:
    """(32, 32, 32, 2) float32: (a_H, R) for each quantised RGB colour, by nearest neighbours over the display map."""
    from scipy.spatial import cKDTree

    from xscreen.vision.xray.render import R_RANGE

    lut = colour_lut(profile)[::8, ::4]  # (32, 128, 3): dense enough, 32x fewer points to search
    a = np.linspace(0.0, A_MAX, COLOUR_LUT_SHAPE[1], dtype=np.float32)[::4]
    r = np.linspace(*R_RANGE, COLOUR_LUT_SHAPE[0], dtype=np.float32)[::8]
    a_grid, r_grid = np.meshgrid(a, r)
    tree = cKDTree(lut.reshape(-1, 3))
    levels = np.arange(0, 256, _Q, dtype=np.float32) + (_Q - 1) / 2.0
    qr, qg, qb = np.meshgrid(levels, levels, levels, indexing="ij")
    # eps: approximate neighbours (within 1.5x the true distance) are as good here and several times faster.
    _, idx = tree.query(np.column_stack([qr.ravel(), qg.ravel(), qb.ravel()]), k=4, eps=0.5, workers=1)
    # Average the 4 nearest: the map folds (hue x darkness), so neighbours at similar a_H agree.
    out = np.stack([a_grid.ravel()[idx].mean(axis=1), r_grid.ravel()[idx].mean(axis=1)], axis=-1)
    return out.reshape(_N, _N, _N, 2).astype(np.float32)


def attenuation_from_colour(rgb: np.ndarray, profile: ScannerProfile | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W) float32 a_H estimate."""
    return _lookup(rgb, profile)[..., 0]


def attenuations_from_colour(rgb: np.ndarray, profile: ScannerProfile | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB -> (a_L, a_H) float32 estimates: the display map inverted (used by TIP)."""
    t = _lookup(rgb, profile)
    return t[..., 0] * t[..., 1], t[..., 0]


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    """The (H, W, 3) uint8 RGB array every colour conversion here reads; anything else is a ValueError."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {arr.shape} {arr.dtype}")
    return arr


def _lookup(rgb: np.ndarray, profile: ScannerProfile | None, table: Callable[[ScannerProfile], np.ndarray] | None = None) -> np.ndarray:
    profile = _resolve(profile)
    arr = _as_rgb(rgb)
    q = (arr // _Q).astype(np.intp)
    return (table or _inverse_table)(profile)[q[..., 0], q[..., 1], q[..., 2]]


@lru_cache(maxsize=8)
def _gray_of_colour(profile: ScannerProfile) -> np.ndarray:
    """(32768,) uint8: the gray of each quantised colour, at index (r // _Q) << 10 | (g // _Q) << 5 | b // _Q."""
    return gray_from_attenuation(_inverse_table(profile)[..., 0], profile).reshape(-1)


def colour_to_gray(rgb: np.ndarray, profile: ScannerProfile | None = None) -> np.ndarray:
    """Pseudo-colour scan (H, W, 3 uint8 RGB) -> single-energy gray (H, W uint8) by attenuation.

    The gray of a pixel depends on its quantised colour only, so it is one look-up in a 32 KB table of the
    32^3 colours' grays: the same values as `gray_from_attenuation(attenuation_from_colour(rgb))` at a ninth
    of the cost (11 -> 1.2 ms for a 0.5-megapixel scan: no float table gathered, no intp index array)."""
    profile = _resolve(profile)
    arr = _as_rgb(rgb)
    q = arr >> (8 - _BITS)  # // _Q
    index = np.left_shift(q[..., 0], 2 * _BITS, dtype=np.uint16)
    index |= np.left_shift(q[..., 1], _BITS, dtype=np.uint16)
    index |= q[..., 2]
    return np.take(_gray_of_colour(profile), index)


def assumed_class(a_high: np.ndarray) -> np.ndarray:
    """Material class assumed for gray pixels: a ramp in a_H (see module docstring)."""
    (o0, o1), (m0, m1) = GRAY_Z_RAMP
    return np.clip((a_high - o0) / (o1 - o0), 0, 1) + np.clip((a_high - m0) / (m1 - m0), 0, 1)


@lru_cache(maxsize=8)
def _gray_palette(profile: ScannerProfile) -> np.ndarray:
    a = attenuation_from_gray(np.arange(256), profile, np.float64)
    return np.clip(palette_colour(assumed_class(a), a, profile) + 0.5, 0, 255).astype(np.uint8)  # (256, 3)


@lru_cache(maxsize=8)
def _gray_palette_channels(profile: ScannerProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    palette = _gray_palette(profile)
    return tuple(np.ascontiguousarray(palette[:, k]) for k in range(3))  # type: ignore[return-value]


def gray_to_colour(gray: np.ndarray, profile: ScannerProfile | None = None) -> np.ndarray:
    """Gray scan (H, W uint8, or H, W, 3 with equal channels) -> (H, W, 3) uint8 pseudo-colour."""
    profile = _resolve(profile)
    arr = np.asarray(gray)
    if arr.ndim == 3:
        arr = arr[..., 0]
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 gray, got {arr.dtype}")
    # One cv2.LUT per channel, merged: the same pixels as indexing the (256, 3) palette, 0.26 against 3.6 ms
    # for a 567 x 627 scan (every gray scan a station sends goes through here).
    return cv2.merge([cv2.LUT(arr, channel) for channel in _gray_palette_channels(profile)])


@lru_cache(maxsize=8)
def _inverse_z_table(profile: ScannerProfile) -> np.ndarray:
    """(32, 32, 32, 2) float32: (a_H, z) for each quantised RGB colour of `profile`'s display."""
    t = _inverse_table(profile)
    z = material_class(t[..., 0], t[..., 1], reference_curves(profile))
    return np.stack([t[..., 0], z], axis=-1).astype(np.float32)


def material_from_colour(rgb: np.ndarray, profile: ScannerProfile | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB -> (a_H, material class z) float32 estimates, through the inverted display map."""
    t = _lookup(rgb, profile, _inverse_z_table)
    return t[..., 0], t[..., 1]


@lru_cache(maxsize=8)
def _palette_table(profile: ScannerProfile) -> np.ndarray:
    """(_Z_STEPS, nA, 3) uint8: `profile`'s display colour over material class z (rows) and a_H (columns)."""
    a = np.linspace(0.0, A_MAX, COLOUR_LUT_SHAPE[1], dtype=np.float32)
    z = np.linspace(0.0, 2.0, _Z_STEPS, dtype=np.float32)
    aa, zz = np.meshgrid(a, z)
    return np.clip(palette_colour(zz, aa, profile) + 0.5, 0, 255).astype(np.uint8)


def recolour(rgb: np.ndarray, target: ScannerProfile, beam_softening: float = 0.0, source: ScannerProfile | None = None) -> np.ndarray:
    """A pseudo-colour scan as `target`'s scanner shows it, its beam softer by `beam_softening` (see module docstring).

    The scan changes by the difference between the two displays of its recovered (a_H, z), so detail finer
    than the inverse table's 32 levels, and the scan's own background, survive.
    """
    source = _resolve(source)
    arr = _as_rgb(rgb)
    q = (arr // _Q).astype(np.intp)
    t = _inverse_z_table(source)[q[..., 0], q[..., 1], q[..., 2]]
    a_high, z = t[..., 0], t[..., 1]
    rows = z * np.float32((_Z_STEPS - 1) / 2.0)

    def show(profile: ScannerProfile, a: np.ndarray) -> np.ndarray:
        cols = a * np.float32((COLOUR_LUT_SHAPE[1] - 1) / A_MAX)
        return cv2.remap(_palette_table(profile), cols, rows, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    before = show(source, a_high)
    if beam_softening:
        a_high = a_high * np.exp(np.float32(beam_softening) * np.interp(z, (0.0, 1.0, 2.0), SOFTENING_WEIGHTS).astype(np.float32))
    out = arr.astype(np.int16) + show(target, a_high).astype(np.int16) - before.astype(np.int16)
    return np.clip(out, 0, 255).astype(np.uint8)


def rescale_pitch(image: np.ndarray, src_pitch_mm: float, dst_pitch_mm: float) -> np.ndarray:
    """Resample a scan taken at `src_pitch_mm` per pixel to `dst_pitch_mm` (area averaging when shrinking)."""
    if src_pitch_mm <= 0 or dst_pitch_mm <= 0:
        raise ValueError("pixel pitches must be positive")
    factor = src_pitch_mm / dst_pitch_mm
    h, w = image.shape[:2]
    size = (max(int(round(w * factor)), 1), max(int(round(h * factor)), 1))
    if size == (w, h):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
