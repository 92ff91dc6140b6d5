"""`Scan`: decoded pixels, what kind of X-ray image they are, and where they came from.

Three kinds reach xscreen from scanner stations:
- `colour`: the usual dual-energy pseudo-colour display image, (H, W, 3) uint8 RGB;
- `gray`: a single-energy view, (H, W) uint8 (a display image) or uint16 / float32 (raw transmission,
  bright = more X-rays through, as a detector reads it);
- `dual_energy`: raw low- and high-energy transmission, (H, W, 2) uint16 or float32, channel 0 = low.

Models see what their card asks for; `xscreen.vision.engine` converts between kinds through
`xscreen.vision.xray` (the renderer the synthetic data uses), so a raw scan and its rendering agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from xscreen.vision.declaration import Declaration

ScanKind = Literal["colour", "gray", "dual_energy"]
SCAN_KINDS: tuple[ScanKind, ...] = ("colour", "gray", "dual_energy")


@dataclass(frozen=True)
class Scan:
    pixels: np.ndarray
    kind: ScanKind
    source: str | None = None  # file name (or other origin) for messages and records
    format: str = "array"  # decoder that produced it: jpeg, png, tiff, npz, dicom, array
    pixel_pitch_mm: float | None = None  # when the file declares it (DICOM pixel spacing, NPZ field)
    declaration: Declaration | None = None  # what the parcel says it holds, for the policy's declaration rules

    def __post_init__(self) -> None:
        px = self.pixels
        if not isinstance(px, np.ndarray):
            raise TypeError(f"Scan.pixels must be a numpy array, got {type(px).__name__}")
        if self.kind not in SCAN_KINDS:
            raise ValueError(f"Scan.kind must be one of {SCAN_KINDS}, got {self.kind!r}")
        expected = {"colour": "(H, W, 3) uint8", "gray": "(H, W) uint8, uint16 or float32", "dual_energy": "(H, W, 2) uint16 or float32"}[self.kind]
        ok = {
            "colour": px.ndim == 3 and px.shape[2] == 3 and px.dtype == np.uint8,
            "gray": px.ndim == 2 and px.dtype in (np.uint8, np.uint16, np.float32),
            "dual_energy": px.ndim == 3 and px.shape[2] == 2 and px.dtype in (np.uint16, np.float32),
        }[self.kind]
        if not ok:
            raise ValueError(f"{self.kind} scan pixels must be {expected}, got {px.shape} {px.dtype}")
        if px.shape[0] < 1 or px.shape[1] < 1:
            raise ValueError(f"scan has no pixels: shape {px.shape}")

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def is_raw(self) -> bool:
        """Raw detector values (not a display image): dual-energy, or gray deeper than 8 bits."""
        return self.kind == "dual_energy" or (self.kind == "gray" and self.pixels.dtype != np.uint8)

    @property
    def low(self) -> np.ndarray:
        if self.kind != "dual_energy":
            raise ValueError(f"a {self.kind} scan has no low-energy channel")
        return self.pixels[..., 0]

    @property
    def high(self) -> np.ndarray:
        """High-energy transmission (dual-energy) or the single-energy channel (gray)."""
        if self.kind == "dual_energy":
            return self.pixels[..., 1]
        if self.kind == "gray":
            return self.pixels
        raise ValueError("a colour scan has no raw high-energy channel")

    def display_gray(self) -> np.ndarray:
        """(H, W) uint8 single-energy view: raw channels through the renderer, colour by attenuation."""
        if self.kind == "gray" and self.pixels.dtype == np.uint8:
            return self.pixels
        if self.kind == "colour":
            from xscreen.vision.xray.convert import colour_to_gray

            return colour_to_gray(self.pixels)
        from xscreen.vision.xray.render import render_gray

        return render_gray(self.high)

    def display_rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB as an operator would see it: gray stays gray, raw dual-energy is rendered."""
        if self.kind == "colour":
            return self.pixels
        if self.kind == "dual_energy":
            from xscreen.vision.xray.render import render_pseudocolour

            return render_pseudocolour(self.low, self.high)
        gray = self.display_gray()
        return np.repeat(gray[..., None], 3, axis=2)
