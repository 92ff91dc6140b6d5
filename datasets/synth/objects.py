"""Scene objects: a named group of shapes sharing one pose, labelled with a taxonomy class or not.

Builders in `containers`, `clutter` and `threats` make objects in their local frame (millimetres,
centred, lying flat: local z is the object's thinnest axis where it has one); `place` poses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xscreen.datasets.synth.shapes import IDENTITY, Shape, rotation_matrix


@dataclass
class SceneObject:
    name: str  # what it is, e.g. "pistol_polymer", "book_hollowed", "phone"
    shapes: list[Shape]
    label: str | None = None  # taxonomy class name, for labelled objects (threats, scissors, tools)
    role: str = "clutter"  # container | clutter | threat | concealment
    center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rotation: np.ndarray = field(default_factory=lambda: IDENTITY.copy())
    extent: tuple[float, float, float] = (0.0, 0.0, 0.0)  # local half extents, for placement
    info: dict = field(default_factory=dict)

    def world_shapes(self) -> list[Shape]:
        return [s.transformed(self.center, self.rotation) for s in self.shapes]

    def to_meta(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "label": self.label,
            "center": [round(float(v), 2) for v in self.center],
            "rotation": [[round(float(v), 5) for v in row] for row in self.rotation],
            "materials": sorted({s.material for s in self.shapes}),
            "info": self.info,
            "shapes": [s.to_meta() for s in self.shapes],
        }


def box(material: str, half: tuple[float, float, float], at=(0.0, 0.0, 0.0), rot: np.ndarray | None = None, **kw) -> Shape:
    return Shape("box", material, np.asarray(at, float), IDENTITY if rot is None else rot, tuple(half), **kw)


def ellipsoid(material: str, axes: tuple[float, float, float], at=(0.0, 0.0, 0.0), rot: np.ndarray | None = None, **kw) -> Shape:
    return Shape("ellipsoid", material, np.asarray(at, float), IDENTITY if rot is None else rot, tuple(axes), **kw)


def cylinder(material: str, radius: float, half_length: float, at=(0.0, 0.0, 0.0), rot: np.ndarray | None = None, **kw) -> Shape:
    return Shape("cylinder", material, np.asarray(at, float), IDENTITY if rot is None else rot, (radius, half_length), **kw)


def prism(material: str, outline: np.ndarray, thickness: float, at=(0.0, 0.0, 0.0), rot: np.ndarray | None = None, **kw) -> Shape:
    return Shape("prism", material, np.asarray(at, float), IDENTITY if rot is None else rot, (thickness,), outline=np.asarray(outline, float), **kw)


def polyline(material: str, path: np.ndarray, diameter: float, at=(0.0, 0.0, 0.0), **kw) -> Shape:
    return Shape("polyline", material, np.asarray(at, float), IDENTITY, (diameter,), outline=np.asarray(path, float), **kw)


def hollow_box(material: str, half: tuple[float, float, float], wall: float, at=(0.0, 0.0, 0.0), rot: np.ndarray | None = None) -> list[Shape]:
    inner = tuple(max(h - wall, 0.01) for h in half)
    return [box(material, half, at, rot), box(material, inner, at, rot, sign=-1.0)]  # type: ignore[arg-type]


def tube(material: str, radius: float, half_length: float, wall: float, at=(0.0, 0.0, 0.0), rot: np.ndarray | None = None, closed: bool = False) -> list[Shape]:
    inner_half = half_length - wall if closed else half_length
    return [cylinder(material, radius, half_length, at, rot), cylinder(material, max(radius - wall, 0.01), inner_half, at, rot, sign=-1.0)]


def hollow_ellipsoid(material: str, axes: tuple[float, float, float], wall: float, at=(0.0, 0.0, 0.0), rot: np.ndarray | None = None) -> list[Shape]:
    inner = tuple(max(a - wall, 0.01) for a in axes)
    return [ellipsoid(material, axes, at, rot), ellipsoid(material, inner, at, rot, sign=-1.0)]  # type: ignore[arg-type]


def along_x() -> np.ndarray:
    """Rotation laying a cylinder's axis (local z) along local x."""
    return rotation_matrix(0.0, np.pi / 2, 0.0)


def along_y() -> np.ndarray:
    return rotation_matrix(0.0, 0.0, np.pi / 2)


def random_pose(rng: np.random.Generator, *, max_tilt_deg: float = 20.0, upright_p: float = 0.0) -> np.ndarray:
    """Free in-plane yaw, a small tilt (objects lie on a face on the belt), sometimes on edge."""
    yaw = rng.uniform(0, 2 * np.pi)
    if upright_p > 0 and rng.random() < upright_p:
        return rotation_matrix(yaw, rng.uniform(np.pi / 2 - 0.3, np.pi / 2), rng.uniform(-0.2, 0.2))
    tilt = np.deg2rad(max_tilt_deg)
    return rotation_matrix(yaw, rng.uniform(-tilt, tilt), rng.uniform(-tilt, tilt))
