"""What a scan shows of materials: the share of the scan covered by dense organic and dense inorganic matter.

The declaration rules (`xscreen.vision.declaration`) compare this with what a parcel says it holds: letters
do not hide a thick organic mass, and a parcel declared at a few euros does not hold a dense block of
electronics. Material comes from the dual-energy physics the renderer uses (`xscreen.vision.xray`): the
material class z (0 organic, 1 aluminium-like, 2 iron) and the high-energy attenuation a_H = -ln T.
- `dual_energy`: z from the ratio of the two channels' attenuations, against the profile's reference curves;
- `colour`: each colour traced back through the display map to (a_H, z), as `colour_to_gray` does;
- `gray`: a single energy says nothing about material, so there is no measure (None) and the material
  rules do not apply.
Scans are subsampled to about a quarter megapixel (`quality.SAMPLE_PIXELS`): the measures are fractions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xscreen.vision.quality import SAMPLE_PIXELS
from xscreen.vision.scan import Scan

ORGANIC_BELOW_Z = 0.5  # z under this is organic (orange on the console); at or above, mixed or metal


@dataclass(frozen=True)
class Composition:
    dense_organic: float  # share of the scan with a_H >= the dense level and z < ORGANIC_BELOW_Z
    dense_inorganic: float  # share with a_H >= the dense level and z >= ORGANIC_BELOW_Z


def material_map(scan: Scan) -> tuple[np.ndarray, np.ndarray] | None:
    """(a_H, z) of a regular subsample of the scan, or None for a gray scan (no material information)."""
    if scan.kind == "gray":
        return None
    step = max(1, math.ceil(math.sqrt(scan.height * scan.width / SAMPLE_PIXELS)))
    pixels = scan.pixels[::step, ::step]
    if scan.kind == "colour":
        from xscreen.vision.xray.convert import material_from_colour

        return material_from_colour(pixels)
    from xscreen.vision.xray.render import material_from_channels

    return material_from_channels(pixels[..., 0], pixels[..., 1])


def measure_composition(scan: Scan, *, dense_attenuation: float) -> Composition | None:
    """Shares of dense organic and dense inorganic matter (a_H at or above `dense_attenuation`); None for gray."""
    mapped = material_map(scan)
    if mapped is None:
        return None
    a_high, z = mapped
    dense = a_high >= dense_attenuation
    organic = z < ORGANIC_BELOW_Z
    return Composition(dense_organic=float((dense & organic).mean()), dense_inorganic=float((dense & ~organic).mean()))
