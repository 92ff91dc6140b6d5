"""3D shapes and their path length along the beam.

The beam runs along world +z (parallel projection: the fan-beam magnification of a line scanner is a
few percent across a parcel and is left out). For each pixel centre (x, y) a shape returns the chord
length [mm] of the ray through it; solids are analytic (slab method for boxes, quadratics for ellipsoids
and cylinders), extruded 2D outlines (gun parts, blades, tools) are rasterised faces with the slab path
d / |cos tilt|, averaged over top and bottom faces so tilted plates get their sloped edges. Hollow parts
are a solid plus the same solid shrunk by the wall with sign -1: path lengths add along a ray, so a
negative shape carves a cavity (also used to hollow a book or a shoe sole around concealed drugs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import cv2
import numpy as np

ShapeKind = Literal["box", "ellipsoid", "cylinder", "prism", "polyline"]
MIN_COS = 0.25  # a plate seen edge-on: cap the slab path at 4x its thickness


@dataclass
class Shape:
    """One solid with one material, posed in world millimetres."""

    kind: ShapeKind
    material: str
    center: np.ndarray  # (3,) mm
    rotation: np.ndarray  # (3, 3) local -> world
    size: tuple[float, ...]  # box: half extents; ellipsoid: semi-axes; cylinder: (radius, half length); prism/polyline: (thickness,)
    outline: np.ndarray | None = None  # prism: (N, 2) polygon mm in local xy; polyline: (N, 2) path mm
    sign: float = 1.0
    texture: float = 0.0  # multiplicative thickness variation amplitude (folds in cloth, crumpled paper)
    density_scale: float = 1.0  # packing: a bag of crystals is less dense than the crystal
    extra: dict = field(default_factory=dict)

    def to_meta(self) -> dict:
        meta: dict[str, Any] = {
            "kind": self.kind,
            "material": self.material,
            "center": [round(float(v), 2) for v in self.center],
            "rotation": [[round(float(v), 5) for v in row] for row in self.rotation],
            "size": [round(float(v), 3) for v in self.size],
        }
        if self.outline is not None:
            meta["outline"] = [[round(float(x), 2), round(float(y), 2)] for x, y in self.outline]
        if self.sign != 1.0:
            meta["sign"] = self.sign
        if self.density_scale != 1.0:
            meta["density_scale"] = round(self.density_scale, 4)
        return meta

    def transformed(self, center: np.ndarray, rotation: np.ndarray) -> "Shape":
        """This shape (in an object's local frame) placed by the object's pose."""
        return replace(self, center=center + rotation @ self.center, rotation=rotation @ self.rotation)


def rotation_matrix(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """R = Rz(yaw) @ Ry(pitch) @ Rx(roll), radians."""
    cz, sz = np.cos(yaw), np.sin(yaw)
    cy, sy = np.cos(pitch), np.sin(pitch)
    cx, sx = np.cos(roll), np.sin(roll)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return rz @ ry @ rx


IDENTITY = np.eye(3)


def footprint_bounds(shape: Shape) -> tuple[float, float, float, float]:
    """World (x0, y0, x1, y1) mm enclosing the shape's projection."""
    r, c = shape.rotation, shape.center
    if shape.kind == "ellipsoid":
        half = np.sqrt(((r[:2, :] * np.asarray(shape.size)) ** 2).sum(axis=1))
    elif shape.kind == "box":
        half = np.abs(r[:2, :]) @ np.asarray(shape.size)
    elif shape.kind == "cylinder":
        rad, h = shape.size
        half = np.abs(r[:2, :]) @ np.array([rad, rad, h])
    else:
        assert shape.outline is not None
        pts = _outline_world(shape, shape.size[0] / 2.0) + _outline_world(shape, -shape.size[0] / 2.0)
        allp = np.concatenate(pts)
        pad = shape.size[0] if shape.kind == "polyline" else 0.0
        return float(allp[:, 0].min() - pad), float(allp[:, 1].min() - pad), float(allp[:, 0].max() + pad), float(allp[:, 1].max() + pad)
    return float(c[0] - half[0]), float(c[1] - half[1]), float(c[0] + half[0]), float(c[1] + half[1])


def _outline_world(shape: Shape, z: float) -> list[np.ndarray]:
    assert shape.outline is not None  # prisms and polylines have one
    pts = np.column_stack([shape.outline, np.full(len(shape.outline), z)])
    return [(shape.center + pts @ shape.rotation.T)[:, :2]]


def path_length(shape: Shape, x0: float, y0: float, pitch: float, width: int, height: int) -> np.ndarray:
    """(height, width) float32 chord lengths [mm] on the pixel grid whose first centre is (x0, y0)."""
    if shape.kind in ("prism", "polyline"):
        return _plate(shape, x0, y0, pitch, width, height)
    xs = (x0 + pitch * np.arange(width, dtype=np.float32) - shape.center[0]).astype(np.float32)
    ys = (y0 + pitch * np.arange(height, dtype=np.float32) - shape.center[1]).astype(np.float32)
    r = shape.rotation.astype(np.float32)
    # local origin o = R^T (dx, dy, 0), local direction d = R^T e_z
    ox = xs[None, :] * r[0, 0] + ys[:, None] * r[1, 0]
    oy = xs[None, :] * r[0, 1] + ys[:, None] * r[1, 1]
    oz = xs[None, :] * r[0, 2] + ys[:, None] * r[1, 2]
    d = r[2, :]
    if shape.kind == "ellipsoid":
        a, b, c = (np.float32(s) for s in shape.size)
        dx, dy, dz = d[0] / a, d[1] / b, d[2] / c
        qa = dx * dx + dy * dy + dz * dz
        qb = 2 * (ox * (dx / a) + oy * (dy / b) + oz * (dz / c))
        qc = (ox / a) ** 2 + (oy / b) ** 2 + (oz / c) ** 2 - 1
        disc = qb * qb - 4 * qa * qc
        return np.sqrt(np.maximum(disc, 0)) / qa
    if shape.kind == "box":
        tmin = np.full(ox.shape, -np.inf, np.float32)
        tmax = np.full(ox.shape, np.inf, np.float32)
        for o, di, h in ((ox, d[0], shape.size[0]), (oy, d[1], shape.size[1]), (oz, d[2], shape.size[2])):
            tmin, tmax = _slab(o, di, h, tmin, tmax)
        return np.maximum(tmax - tmin, 0)
    if shape.kind == "cylinder":
        rad, h = shape.size
        tmin = np.full(ox.shape, -np.inf, np.float32)
        tmax = np.full(ox.shape, np.inf, np.float32)
        tmin, tmax = _slab(oz, d[2], h, tmin, tmax)
        qa = d[0] * d[0] + d[1] * d[1]
        qc = ox * ox + oy * oy - np.float32(rad * rad)
        if qa < 1e-8:  # axis along the beam: a disc
            inside = qc <= 0
            return np.where(inside, np.maximum(tmax - tmin, 0), 0).astype(np.float32)
        qb = 2 * (ox * d[0] + oy * d[1])
        disc = qb * qb - 4 * qa * qc
        sq = np.sqrt(np.maximum(disc, 0))
        t1 = (-qb - sq) / (2 * qa)
        t2 = (-qb + sq) / (2 * qa)
        lo = np.maximum(tmin, t1)
        hi = np.minimum(tmax, t2)
        return np.where(disc > 0, np.maximum(hi - lo, 0), 0).astype(np.float32)
    raise ValueError(f"unknown shape kind {shape.kind!r}")


def _slab(o: np.ndarray, d: float, h: float, tmin: np.ndarray, tmax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if abs(d) < 1e-7:
        outside = np.abs(o) > h
        tmin = np.where(outside, np.inf, tmin)
        tmax = np.where(outside, -np.inf, tmax)
        return tmin, tmax
    inv = np.float32(1.0 / d)
    t1 = (-h - o) * inv
    t2 = (h - o) * inv
    return np.maximum(tmin, np.minimum(t1, t2)), np.minimum(tmax, np.maximum(t1, t2))


def _plate(shape: Shape, x0: float, y0: float, pitch: float, width: int, height: int) -> np.ndarray:
    thick = shape.size[0]
    acc = np.zeros((height, width), np.float32)
    shift = 4
    scale = (1 << shift) / pitch
    for z in (thick / 2.0, -thick / 2.0):
        pts = _outline_world(shape, z)[0]
        px = np.round((pts - np.array([x0, y0])) * scale).astype(np.int32)
        mask = np.zeros((height, width), np.uint8)
        if shape.kind == "prism":
            cv2.fillPoly(mask, [px], 255, lineType=cv2.LINE_AA, shift=shift)
            # cv2 paints boundary pixels generously; rescale so the face keeps its true area (mass).
            painted = float(mask.sum()) / 255.0
            area = abs(_shoelace(pts)) / (pitch * pitch)
            acc += mask.astype(np.float32) * np.float32(area / painted / 255.0 if painted > 0 else 0.0)
        else:
            t = max(1, int(round(thick / pitch)))
            cv2.polylines(mask, [px], False, 255, thickness=t, lineType=cv2.LINE_AA, shift=shift)
            acc += mask.astype(np.float32) * np.float32(1 / 255.0)
    if shape.kind == "polyline":
        return acc * np.float32(0.8 * thick / 2.0)  # round wire: mean chord ~ 0.8 d
    cos = max(abs(float(shape.rotation[2, 2])), MIN_COS)
    return acc * np.float32(thick / cos / 2.0)


def _shoelace(pts: np.ndarray) -> float:
    x, y = pts[:, 0], pts[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
