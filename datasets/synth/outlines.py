"""2D outlines (millimetres, side view) of gun parts, blades and tools, extruded into plates by `threats`.

Coordinates: x forward (muzzle / blade tip at +x), y up; roughly centred. Dimensions follow common
handguns (a 9 mm service pistol is about 185 x 130 mm), knives and hand tools; builders scale them.
"""

from __future__ import annotations

import numpy as np


def _arr(points: list[tuple[float, float]]) -> np.ndarray:
    return np.asarray(points, dtype=float)


# Polymer-frame pistol frame: dust cover, trigger area, grip sloping backwards.
PISTOL_FRAME = _arr([(-92, 18), (82, 18), (82, 4), (14, 4), (6, -2), (-26, -2), (-30, -10), (-42, -74), (-47, -80),
                     (-76, -80), (-80, -73), (-70, -12), (-80, -2), (-92, 6)])
PISTOL_TRIGGER_GUARD = _arr([(14, 4), (18, -14), (10, -24), (-14, -24), (-24, -8)])
PISTOL_TRIGGER = _arr([(-2, 2), (2, 2), (0, -14), (-5, -15), (-4, -4)])
# Grip axis, for the magazine inside it: from (-33, 0) to (-60, -78)
PISTOL_GRIP_ANGLE = float(np.arctan2(-78.0, -27.0))

REVOLVER_FRAME = _arr([(-60, 22), (40, 22), (40, 2), (-10, 2), (-18, -6), (-40, -6), (-46, -2), (-52, 12), (-62, 14)])
REVOLVER_GRIP = _arr([(-44, 2), (-58, 14), (-74, -30), (-78, -62), (-58, -66), (-50, -40), (-38, -6)])

AR_LOWER = _arr([(-95, 12), (95, 12), (95, 0), (40, 0), (38, -20), (10, -20), (6, -8), (-20, -8), (-28, -58), (-48, -62),
                 (-52, -10), (-95, -6)])

TRIGGER_GROUP_PARTS = [
    _arr([(0, 0), (30, 0), (30, 6), (8, 10), (0, 6)]),  # trigger bar
    _arr([(0, 0), (6, 0), (5, -16), (-2, -18), (-1, -4)]),  # trigger
    _arr([(0, 0), (14, 0), (14, 10), (0, 10)]),  # hammer / sear housing
]

KNIFE_BLADES = {
    "straight": _arr([(0, -8), (120, -6), (150, 0), (120, 10), (0, 10)]),
    "kitchen": _arr([(0, -15), (150, -10), (200, 5), (170, 15), (0, 18)]),
    "dagger": _arr([(0, -12), (100, -6), (140, 0), (100, 6), (0, 12)]),
    "folding": _arr([(0, -6), (70, -8), (90, 0), (75, 10), (0, 10)]),
    "utility": _arr([(0, -8), (20, -9), (30, 0), (20, 9), (0, 9)]),
}
KNIFE_HANDLES = {
    "straight": _arr([(-110, -10), (0, -12), (0, 14), (-110, 11)]),
    "kitchen": _arr([(-120, -9), (0, -11), (0, 14), (-120, 10)]),
    "dagger": _arr([(-100, -9), (-5, -9), (-5, -25), (0, -25), (0, 25), (-5, 25), (-5, 9), (-100, 9)]),
    "folding": _arr([(-100, -10), (0, -10), (6, 0), (0, 12), (-100, 11)]),
    "utility": _arr([(-140, -12), (0, -10), (0, 12), (-140, 14)]),
}

WRENCH = _arr([(-90, -6), (70, -6), (78, -16), (96, -14), (104, -4), (88, -4), (88, 4), (104, 4), (96, 14), (78, 16), (70, 6),
               (-90, 6), (-100, 10), (-110, 0), (-100, -10)])
PLIERS_JAW = _arr([(0, -3), (60, -2), (70, 4), (0, 6)])
PLIERS_HANDLE = _arr([(0, 0), (-130, 12), (-132, 4), (0, -6)])
SCISSORS_BLADE = _arr([(0, -4), (100, -1), (105, 2), (0, 6)])

# Razor blades, flat, edges along x. Double-edge safety blade: 43 x 22 mm, both long sides ground, a notch
# in each short side and the slotted centre (a bar slot with a bulge at the middle and round ends) that the
# razor's pins go through (`DE_BLADE_SLOT`, cut out of it).
DE_BLADE = _arr([(-21.5, -11), (21.5, -11), (21.5, -2.5), (19.5, -1.2), (19.5, 1.2), (21.5, 2.5), (21.5, 11), (-21.5, 11),
                 (-21.5, 2.5), (-19.5, 1.2), (-19.5, -1.2), (-21.5, -2.5)])
_SLOT_TOP = [(-16.5, 0.0), (-16.1, 1.1), (-15.0, 1.6), (-14.0, 1.1), (-4.0, 1.1), (-2.2, 2.6), (0.0, 3.4), (2.2, 2.6), (4.0, 1.1),
             (14.0, 1.1), (15.0, 1.6), (16.1, 1.1), (16.5, 0.0)]
DE_BLADE_SLOT = _arr(_SLOT_TOP + [(x, -y) for x, y in reversed(_SLOT_TOP[1:-1])])
# Single-edge blade (38 x 19 mm) with its folded steel spine along the back (+y).
SE_BLADE = _arr([(-19, -9.5), (19, -9.5), (19, 9.5), (-19, 9.5)])
SE_SPINE = _arr([(-19, 6.5), (19, 6.5), (19, 9.5), (-19, 9.5)])
# Utility-knife / box-cutter refill: the trapezoid 61 x 19 mm with two notches in the back.
UTILITY_BLADE = _arr([(-30.5, -9.5), (30.5, -9.5), (21, 9.5), (6, 9.5), (4, 7), (-4, 7), (-6, 9.5), (-21, 9.5)])
# Snap-off cutter blade, 100 x 18 mm parallelogram (score lines are too fine for the detector grid).
SNAP_OFF_BLADE = _arr([(-50, -9), (44, -9), (50, 9), (-44, 9)])


def star_outline(points: int, outer: float, inner: float, *, sweep: float = 0.0, teeth: int = 0, tooth: float = 0.0) -> np.ndarray:
    """A throwing star (shuriken) in mm: `points` tips at radius `outer`, valleys at `inner`, centred.

    sweep (radians) bends every point sideways along its length (curved, "swirl" stars); teeth > 0 cuts
    that many saw teeth of depth `tooth` mm into each point's edges (serrated stars).
    """
    half = np.pi / points
    samples = max(2 * teeth, 6) + 1
    t = np.linspace(0.0, 1.0, samples)
    out: list[np.ndarray] = []
    for k in range(points):
        centre = 2 * np.pi * k / points
        for side in (-1.0, 1.0):
            u = t if side < 0 else t[::-1]  # valley -> tip on the leading edge, tip -> valley on the trailing one
            radius = inner + (outer - inner) * u
            angle = centre + side * half * (1 - u) + sweep * u ** 2
            if teeth:
                radius = radius - tooth * (np.arange(samples) % 2) * (u > 0.15) * (u < 0.9)
            edge = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
            out.append(edge[:-1])  # the tip once, each valley once (the next point's leading edge starts there)
    return np.concatenate(out)


def spring_path(length: float, diameter: float, turns: int) -> np.ndarray:
    """A coil spring seen from the side: a zigzag between the coil's two silhouette lines."""
    xs = np.linspace(-length / 2, length / 2, 2 * turns + 1)
    ys = np.where(np.arange(len(xs)) % 2 == 0, -diameter / 2, diameter / 2)
    return np.column_stack([xs, ys])


def ring_path(radius_x: float, radius_y: float, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n + 1)
    return np.column_stack([radius_x * np.cos(t), radius_y * np.sin(t)])


def jitter(outline: np.ndarray, rng: np.random.Generator, scale: float, amount: float = 0.04) -> np.ndarray:
    """Scale an outline and move each vertex by a few percent: no two parts are the same model."""
    size = float(np.ptp(outline, axis=0).max())
    return outline * scale + rng.normal(0, amount * size * scale / 4, outline.shape)
