"""What the detector adds to ideal transmission: blur, quantum noise, gain errors, line-scan artefacts.

Order follows the signal chain: focal-spot and scintillator blur act on the photon field; quanta are
counted (Poisson noise; counts per pixel are in the thousands, so the Gaussian limit with variance equal
to the mean is used: it is ~5x faster than drawing Poisson variates and indistinguishable at these
counts); the flat-field correction leaves residual gain errors per detector element (stripes along the
belt direction, here image rows), the tube output flickers per scan line (columns), a few detector
elements are dead; the result is quantised to 16 bits as a scanner's calibrated raw output.
"""

from __future__ import annotations

import cv2
import numpy as np

from xscreen.vision.xray.profiles import ScannerProfile

FULL_SCALE = 65535


def simulate_detector(channels: dict[str, np.ndarray], profile: ScannerProfile, pitch_mm: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Ideal per-channel transmission (float, 0..1) -> raw uint16 channels as the scanner writes them.

    Photon counts scale with pixel area, so a coarser pitch is less noisy, as on a real scanner.
    """
    det = profile.detector
    h, w = (int(n) for n in next(iter(channels.values())).shape)
    sigma_px = det.blur_sigma_mm / pitch_mm
    area = (pitch_mm / det.pixel_pitch_mm) ** 2
    # Gain errors and flicker are shared by both channels' electronics only in part; draw per channel.
    dead_rows = rng.random(h) < det.dead_pixel_rate
    out: dict[str, np.ndarray] = {}
    for name, t in channels.items():
        sig: np.ndarray = np.array(t, dtype=np.float32, copy=True)
        if sigma_px > 0.3:
            sig = cv2.GaussianBlur(sig, (0, 0), sigma_px)
        photons = det.photons * area * (det.low_photon_fraction if name == "low" else 1.0)
        noise = rng.standard_normal((h, w), dtype=np.float32)
        std = cv2.sqrt(np.maximum(sig, 0) * np.float32(1.0 / photons))
        sig += noise * std
        gain = (1.0 + det.gain_sigma * rng.standard_normal(h).astype(np.float32))[:, None] * (1.0 + det.line_sigma * rng.standard_normal(w).astype(np.float32))[None, :]
        sig *= gain * np.float32(FULL_SCALE)
        if det.offset > 0:
            sig += np.float32(det.offset * FULL_SCALE)
        if dead_rows.any():
            sig[dead_rows, :] = sig[np.maximum(np.nonzero(dead_rows)[0] - 1, 0), :]  # scanner interpolates dead elements
        out[name] = np.clip(sig + 0.5, 0, FULL_SCALE).astype(np.uint16)
    return out
