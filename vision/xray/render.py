"""Display rendering of dual-energy transmission: pseudo-colour and single-energy gray.

Public API (used by the service for real raw scans and by the synthetic generator):
    render_pseudocolour(low, high, profile=None) -> (H, W, 3) uint8 RGB
    render_gray(high, profile=None) -> (H, W) uint8

Inputs are calibrated transmission channels: uint16 (65535 = air) or float (1.0 = air).

Colour follows the usual screening convention. The material class z comes from the attenuation ratio
R = a_L / a_H (a = -ln T): a ray through high-Z matter loses relatively more of its low-energy channel.
R depends on thickness too (beam hardening), so z is read against reference curves R_ref(a_H) of water
(z=0, orange organic), aluminium (z=1, green mixed) and iron (z=2, blue metal), computed from the
profile's own spectra. Brightness comes from a_H: white in air, hue saturating as a_H grows, darkening to
black where nothing gets through. The (a_H, R) -> RGB mapping is one table per profile, read with
bilinear interpolation, so rendering a 1024 x 1024 scan takes a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from xscreen.vision.xray.profiles import ScannerProfile, load_profile

A_MAX = 10.0  # a_H beyond this (T < 4.5e-5) is black on every display
R_RANGE = (0.7, 2.6)
COLOUR_LUT_SHAPE = (256, 512)  # (R steps, a_H steps)
_EPS = 1.0 / 65535.0


@dataclass(frozen=True)
class ReferenceCurves:
    a_high: np.ndarray  # (n,)
    ratio: dict[str, np.ndarray]  # material -> (n,) R at each a_H


def as_transmission(channel: np.ndarray) -> np.ndarray:
    """uint16 (65535 = air) or float (1 = air) -> float32 transmission in [1/65535, 1]."""
    arr = np.asarray(channel)
    t = arr.astype(np.float32) / 65535.0 if arr.dtype == np.uint16 else arr.astype(np.float32, copy=False)
    return np.clip(t, _EPS, 1.0)


@lru_cache(maxsize=8)
def reference_curves(profile: ScannerProfile) -> ReferenceCurves:
    """R(a_H) of water, aluminium and iron for this profile's beam (exact polychromatic sums)."""
    from xscreen.vision.xray.materials import get_material
    from xscreen.vision.xray.physics import exact_transmission

    beam = profile.beam_spec
    grid = np.linspace(0.02, A_MAX, 200)
    ratio: dict[str, np.ndarray] = {}
    for name in ("water", "aluminium", "steel"):
        rho = get_material(name).density
        thick = np.geomspace(0.005, 400.0, 400)  # cm
        a_h, r = [], []
        for t in thick:
            tr = exact_transmission(beam, {name: rho * t})
            if tr["high"] < 1e-5:
                break
            a_h.append(-np.log(tr["high"]))
            r.append(np.log(tr["low"]) / np.log(tr["high"]))
        ratio[name] = np.interp(grid, np.array(a_h), np.array(r))  # flat extrapolation past the last point
    # Keep the curves ordered so z stays monotonic in R even where beam hardening pulls them together.
    ratio["aluminium"] = np.maximum(ratio["aluminium"], ratio["water"] + 0.06)
    ratio["steel"] = np.maximum(ratio["steel"], ratio["aluminium"] + 0.06)
    return ReferenceCurves(grid, ratio)


def material_class(a_high: np.ndarray, ratio: np.ndarray, curves: ReferenceCurves) -> np.ndarray:
    """z in [0, 2]: 0 at the water curve or below, 1 at aluminium, 2 at iron or above."""
    rw = np.interp(a_high, curves.a_high, curves.ratio["water"])
    ra = np.interp(a_high, curves.a_high, curves.ratio["aluminium"])
    rf = np.interp(a_high, curves.a_high, curves.ratio["steel"])
    z_low = np.clip((ratio - rw) / (ra - rw), 0, 1)
    z_high = np.clip((ratio - ra) / (rf - ra), 0, 1)
    return z_low + z_high


def palette_colour(z: np.ndarray, a_high: np.ndarray, profile: ScannerProfile) -> np.ndarray:
    """RGB float32 (..., 3) in 0..255 for material class z and attenuation a_H."""
    pal = profile.palette
    anchors = np.array([pal.organic, pal.mixed, pal.metal], np.float32)
    z = np.clip(z, 0, 2)
    if pal.z_gamma != 1.0:
        z = np.where(z < 1, np.power(np.clip(z, 0, 1), pal.z_gamma), z)
    z = z[..., None]
    # Displays clip near-air to white, so detector noise does not tint the background.
    a = np.maximum(a_high - pal.air_threshold, 0)[..., None]
    organic = anchors[0]
    if pal.organic_thin is not None:
        thin = np.array(pal.organic_thin, np.float32)
        organic = thin + (anchors[0] - thin) * np.clip(a / pal.organic_full_at, 0, 1)
    col = np.where(z <= 1, organic + (anchors[1] - organic) * z, anchors[1] + (anchors[2] - anchors[1]) * (z - 1))
    s = 1.0 - np.exp(-a / pal.saturation_scale)
    base = 255.0 - (255.0 - col) * s
    v = np.exp(-pal.dark_rate * np.maximum(a - pal.dark_start, 0.0))
    rgb = base * v
    if pal.gamma != 1.0:
        rgb = 255.0 * (rgb / 255.0) ** pal.gamma
    return rgb.astype(np.float32)


@lru_cache(maxsize=8)
def colour_lut(profile: ScannerProfile) -> np.ndarray:
    """(nR, nA, 3) float32 RGB table over R (rows) and a_H (columns)."""
    curves = reference_curves(profile)
    a = np.linspace(0.0, A_MAX, COLOUR_LUT_SHAPE[1], dtype=np.float32)
    r = np.linspace(*R_RANGE, COLOUR_LUT_SHAPE[0], dtype=np.float32)
    aa, rr = np.meshgrid(a, r)
    z = material_class(aa, rr, curves)
    return np.ascontiguousarray(palette_colour(z, aa, profile))


def _resolve(profile: ScannerProfile | None) -> ScannerProfile:
    return profile if profile is not None else load_profile(None)


def attenuation(channel: np.ndarray) -> np.ndarray:
    """-ln T as float32; uint16 input goes through a 65536-entry table (a gather, much faster than log)."""
    arr = np.asarray(channel)
    if arr.dtype == np.uint16:
        return np.take(_neg_log_table(), arr)
    return -np.log(as_transmission(arr))


@lru_cache(maxsize=1)
def _neg_log_table() -> np.ndarray:
    return (-np.log(np.clip(np.arange(65536, dtype=np.float64) / 65535.0, _EPS, 1.0))).astype(np.float32)


def material_from_channels(low: np.ndarray, high: np.ndarray, profile: ScannerProfile | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw low/high transmission (H, W) -> (a_H, material class z), the two things the display shows."""
    a_low = attenuation(low)
    a_high = attenuation(high)
    ratio = a_low / np.maximum(a_high, np.float32(0.02))  # noise where almost nothing attenuates
    return a_high, material_class(a_high, ratio, reference_curves(_resolve(profile)))


def render_pseudocolour(low: np.ndarray, high: np.ndarray, profile: ScannerProfile | None = None) -> np.ndarray:
    """Raw low/high transmission channels (H, W) -> (H, W, 3) uint8 RGB pseudo-colour display."""
    profile = _resolve(profile)
    if np.shape(low) != np.shape(high):
        raise ValueError(f"low and high channels differ in shape: {np.shape(low)} vs {np.shape(high)}")
    a_low = attenuation(low)
    a_high = attenuation(high)
    # Ratio is noise where almost nothing attenuates; the hue is invisible there (saturation ~ 0).
    y = a_low / np.maximum(a_high, np.float32(0.02))
    y -= np.float32(R_RANGE[0])
    y *= np.float32((COLOUR_LUT_SHAPE[0] - 1) / (R_RANGE[1] - R_RANGE[0]))
    x = a_high * np.float32((COLOUR_LUT_SHAPE[1] - 1) / A_MAX)
    out = cv2.remap(colour_lut_u8(profile), x, y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if profile.display.edge_enhance > 0:
        out = unsharp(out, profile.display.edge_enhance)
    return out


@lru_cache(maxsize=8)
def colour_lut_u8(profile: ScannerProfile) -> np.ndarray:
    return np.clip(colour_lut(profile) + 0.5, 0, 255).astype(np.uint8)


def gray_from_attenuation(a_high: np.ndarray, profile: ScannerProfile | None = None) -> np.ndarray:
    profile = _resolve(profile)
    g = 255.0 * np.exp(-profile.display.gray_gamma * np.maximum(a_high, 0))
    return np.clip(g + 0.5, 0, 255).astype(np.uint8)


def attenuation_from_gray(gray: np.ndarray, profile: ScannerProfile | None = None, dtype: type = np.float32) -> np.ndarray:
    """The inverse of `gray_from_attenuation`: a_H of each level of a gray display (255 * T ** gray_gamma), in `dtype`."""
    profile = _resolve(profile)
    transmission = np.clip(np.asarray(gray, dtype) / dtype(255.0), dtype(1 / 512), dtype(1.0))
    return -np.log(transmission) / dtype(profile.display.gray_gamma)


def render_gray(high: np.ndarray, profile: ScannerProfile | None = None) -> np.ndarray:
    """Single-energy view: (H, W) uint8, 255 * T ** gray_gamma (white air, dark where absorbed)."""
    profile = _resolve(profile)
    out = gray_from_attenuation(attenuation(high), profile)
    if profile.display.edge_enhance > 0:
        out = unsharp(out, profile.display.edge_enhance)
    return out


def unsharp(image: np.ndarray, amount: float, sigma: float = 1.5) -> np.ndarray:
    """Edge enhancement as scanner displays do it: image + amount * (image - blurred)."""
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    return cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0)
