"""Threat builders: firearms, loose gun parts, magazines, ammunition, knives (and the other edged weapons
labelled `knife`: throwing stars, razor blades), drugs; plus the labelled benign look-alikes (scissors,
tools). Each returns `SceneObject`s in their local frame, labelled with a taxonomy class name (checked
against the taxonomy by the scene sampler, never hard-coded ids).

Drugs take their mass first (log-uniform 1 g to 1 kg for bags) and their size from the bulk density of
the material, so a 1 kg brick of pressed cocaine and a 1 kg bundle of cannabis differ as they should.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from xscreen.datasets.synth import outlines as ol
from xscreen.datasets.synth.objects import (
    SceneObject,
    along_x,
    along_y,
    box,
    cylinder,
    ellipsoid,
    hollow_box,
    hollow_ellipsoid,
    polyline,
    prism,
    tube,
)
from xscreen.datasets.synth.shapes import Shape, rotation_matrix
from xscreen.vision.xray.materials import get_material

Builder = Callable[[np.random.Generator], list[SceneObject]]


def _extent(shapes: list[Shape]) -> tuple[float, float, float]:
    from xscreen.datasets.synth.shapes import footprint_bounds

    b = np.array([footprint_bounds(s) for s in shapes if s.sign > 0])
    hx = max(abs(b[:, 0].min()), abs(b[:, 2].max()))
    hy = max(abs(b[:, 1].min()), abs(b[:, 3].max()))
    hz = max(max(s.size) if s.kind in ("box", "ellipsoid") else s.size[0] for s in shapes)
    return float(hx), float(hy), float(min(hz, 60.0))


def _obj(name: str, label: str | None, shapes: list[Shape], role: str = "threat", **info) -> SceneObject:
    return SceneObject(name=name, shapes=shapes, label=label, role=role, extent=_extent(shapes), info=info)


# ---------------------------------------------------------------- firearms and parts
def _cartridge(at: tuple[float, float, float], rot: np.ndarray, calibre: float = 9.0, case_len: float = 19.0) -> list[Shape]:
    r = calibre / 2 + 0.4
    axis = rot @ np.array([0, 0, 1.0])
    c = np.asarray(at, float)
    shapes = tube("brass", r, case_len / 2, 0.45, c, rot, closed=True)
    shapes.append(cylinder("gunpowder", r - 0.5, case_len / 2 - 1.0, c, rot, density_scale=0.9))
    bullet = c + axis * (case_len / 2 + calibre * 0.45)
    shapes.append(ellipsoid("lead", (calibre / 2, calibre / 2, calibre * 0.75), bullet, rot))
    return shapes


def _magazine_shapes(rng: np.random.Generator, length: float, at=(0.0, 0.0, 0.0), angle: float = 0.0, loaded: bool | None = None) -> list[Shape]:
    rot = rotation_matrix(angle)
    material = "steel" if rng.random() < 0.7 else "polyethylene"
    wall = 0.8 if material == "steel" else 2.2
    half = (length / 2, 15.0, 11.0)
    shapes = hollow_box(material, half, wall, at, rot)
    # follower spring along the magazine
    spring = ol.spring_path(length * 0.8, 20.0, int(length / 8))
    pts = np.column_stack([spring, np.zeros(len(spring))]) @ rot.T + np.asarray(at)
    shapes.append(polyline("steel", pts[:, :2], 1.2, at=(0, 0, 0)))
    if loaded if loaded is not None else rng.random() < 0.6:
        n = int(rng.integers(3, max(4, int(length / 10))))
        crot = rot @ along_y()  # cartridges lie across the magazine, bullets forward
        for i in range(n):
            x = length / 2 - 6 - i * 9.5
            off = 2.5 if i % 2 else -2.5  # double stack
            pos = np.asarray(at) + rot @ np.array([x, -3.0, off])
            shapes += _cartridge(tuple(pos), crot)
    return shapes


def pistol(rng: np.random.Generator) -> list[SceneObject]:
    s = rng.uniform(0.85, 1.15)
    polymer = rng.random() < 0.6
    frame_mat = "nylon_gf" if polymer else "steel"
    shapes: list[Shape] = []
    frame = ol.jitter(ol.PISTOL_FRAME, rng, s, 0.02)
    if polymer:
        shapes.append(prism(frame_mat, frame, 28 * s))
        shapes.append(box("steel", (40 * s, 3.0, 10 * s), at=(10 * s, 16 * s, 0)))  # rails and locking block
    else:
        shapes.append(prism(frame_mat, frame, 6.0))  # two side walls of the steel frame
    shapes.append(polyline("nylon_gf" if polymer else "steel", ol.PISTOL_TRIGGER_GUARD * s, 5.0))
    shapes.append(prism("steel", ol.PISTOL_TRIGGER * s, 6.0))
    shapes += hollow_box("steel", (93 * s, 15 * s, 12 * s), 3.5, at=(-3 * s, 34 * s, 0))  # slide
    shapes += tube("steel", 7.0, 58 * s, 2.6, at=(18 * s, 34 * s, 0), rot=along_x())  # barrel
    shapes.append(polyline("steel", ol.spring_path(70 * s, 9.0, 14) + np.array([15 * s, 22 * s]), 1.0))  # recoil spring
    if rng.random() < 0.75:
        mag_center = np.array([-47.0, -40.0]) * s
        shapes += _magazine_shapes(rng, 80 * s, at=(mag_center[0], mag_center[1], 0), angle=ol.PISTOL_GRIP_ANGLE + np.pi)
    return [_obj("pistol_" + ("polymer" if polymer else "steel"), "firearm", shapes)]


def revolver(rng: np.random.Generator) -> list[SceneObject]:
    s = rng.uniform(0.85, 1.2)
    shapes = [prism("steel", ol.jitter(ol.REVOLVER_FRAME, rng, s, 0.02), 10.0)]
    shapes.append(prism("wood" if rng.random() < 0.5 else "rubber", ol.jitter(ol.REVOLVER_GRIP, rng, s, 0.02), 30.0))
    barrel_len = rng.uniform(50, 150) * s
    shapes += tube("steel", 8.5, barrel_len / 2, 4.0, at=(40 * s + barrel_len / 2, 14 * s, 0), rot=along_x())
    cyl_at = np.array([-5 * s, 12 * s, 0])
    shapes.append(cylinder("steel", 19 * s, 20 * s, at=cyl_at, rot=along_x()))
    for k in range(6):
        a = k * np.pi / 3
        off = np.array([0, np.cos(a), np.sin(a)]) * 12 * s
        shapes.append(cylinder("steel", 4.8, 21 * s, at=cyl_at + off, rot=along_x(), sign=-1.0))
        if rng.random() < 0.7:
            shapes += _cartridge(tuple(cyl_at + off), along_x(), 9.0, 30 * s)
    shapes.append(polyline("steel", ol.PISTOL_TRIGGER_GUARD * s + np.array([-10, 0]), 4.0))
    return [_obj("revolver", "firearm", shapes)]


def slide(rng: np.random.Generator) -> list[SceneObject]:
    s = rng.uniform(0.8, 1.15)
    shapes = hollow_box("steel", (93 * s, 15 * s, 12 * s), 3.5)
    shapes.append(box("steel", (18 * s, 8 * s, 12 * s), at=(-70 * s, 0, 0), sign=-0.5))  # ejection port / breech face cut
    return [_obj("slide", "firearm_part", shapes, part="slide")]


def barrel(rng: np.random.Generator) -> list[SceneObject]:
    length = rng.uniform(80, 140) if rng.random() < 0.7 else rng.uniform(250, 450)
    r = rng.uniform(6.5, 9.5)
    shapes = tube("steel", r, length / 2, r - 4.5, rot=along_x())
    shapes.append(box("steel", (10, r + 3, r), at=(-length / 2 + 10, 0, 0)))  # chamber hood / lug
    return [_obj("barrel", "firearm_part", shapes, part="barrel")]


def frame(rng: np.random.Generator) -> list[SceneObject]:
    s = rng.uniform(0.85, 1.15)
    kind = rng.choice(["polymer", "printed", "steel", "ar_lower"])
    if kind == "ar_lower":
        shapes = [prism("aluminium", ol.jitter(ol.AR_LOWER, rng, s, 0.02), 22.0)]
        shapes.append(box("aluminium", (40 * s, 8 * s, 11.0), at=(30 * s, -6 * s, 0), sign=-1.0))  # magazine well
    else:
        mat = {"polymer": "nylon_gf", "printed": "pla", "steel": "steel"}[str(kind)]
        shapes = [prism(mat, ol.jitter(ol.PISTOL_FRAME, rng, s, 0.02), 28 * s if mat != "steel" else 6.0)]
        shapes.append(polyline(mat, ol.PISTOL_TRIGGER_GUARD * s, 5.0))
        if mat != "steel":
            shapes.append(box("steel", (40 * s, 3.0, 10 * s), at=(10 * s, 16 * s, 0)))
        if kind == "printed":
            shapes[0].density_scale = rng.uniform(0.5, 0.9)  # infill
    return [_obj("frame_" + str(kind), "firearm_part", shapes, part="frame")]


def bolt(rng: np.random.Generator) -> list[SceneObject]:
    length = rng.uniform(60, 180)
    r = rng.uniform(8, 13)
    shapes = [cylinder("steel", r, length / 2, rot=along_x())]
    shapes.append(cylinder("steel", r * 0.45, length * 0.3, at=(-length * 0.2, 0, 0), rot=along_x(), sign=-1.0))  # firing pin channel
    shapes.append(box("steel", (6, r + 6, 4), at=(length * 0.3, 0, 0)))  # lugs / handle
    return [_obj("bolt", "firearm_part", shapes, part="bolt")]


def trigger_group(rng: np.random.Generator) -> list[SceneObject]:
    shapes: list[Shape] = [box("steel", (22, 12, 8), sign=1.0, density_scale=0.25)]  # housing of thin sheet
    for k, part in enumerate(ol.TRIGGER_GROUP_PARTS):
        shapes.append(prism("steel", ol.jitter(part, rng, rng.uniform(0.9, 1.2), 0.03) + rng.uniform(-14, 4, 2), rng.uniform(4, 7)))
    for _ in range(int(rng.integers(1, 3))):
        shapes.append(polyline("steel", ol.spring_path(rng.uniform(12, 25), 5, 6) + rng.uniform(-8, 8, 2), 0.8))
    return [_obj("trigger_group", "firearm_part", shapes, part="trigger_group")]


def spring_set(rng: np.random.Generator) -> list[SceneObject]:
    shapes = []
    for k in range(int(rng.integers(1, 4))):
        shapes.append(polyline("steel", ol.spring_path(rng.uniform(40, 110), rng.uniform(6, 12), int(rng.integers(10, 25))) + np.array([0, 14 * k]), rng.uniform(0.8, 1.4)))
    return [_obj("springs", "firearm_part", shapes, part="springs")]


def suppressor(rng: np.random.Generator) -> list[SceneObject]:
    length = rng.uniform(120, 200)
    r = rng.uniform(15, 22)
    mat = "aluminium" if rng.random() < 0.5 else "steel"
    shapes = tube(mat, r, length / 2, 1.5, rot=along_x())
    for x in np.linspace(-length / 2 + 15, length / 2 - 15, int(rng.integers(5, 9))):
        shapes += tube(mat, r - 1.5, 1.0, r - 6, at=(x, 0, 0), rot=along_x())  # baffles with a bore hole
    return [_obj("suppressor", "firearm_part", shapes, part="suppressor")]


def parts_kit(rng: np.random.Generator) -> list[SceneObject]:
    """A pistol taken apart and spread through one parcel: each part labelled and placed on its own."""
    kit = [slide(rng)[0], barrel(rng)[0], frame(rng)[0]]
    for extra in (spring_set, trigger_group, magazine):
        if rng.random() < 0.5:
            kit.append(extra(rng)[0])
    for part in kit:
        part.info["spread"] = True
    return kit


def magazine(rng: np.random.Generator) -> list[SceneObject]:
    length = rng.uniform(85, 130) if rng.random() < 0.7 else rng.uniform(150, 230)
    return [_obj("magazine", "magazine", _magazine_shapes(rng, length))]


def ammunition(rng: np.random.Generator) -> list[SceneObject]:
    calibre, case_len = [(9.0, 19.0), (5.6, 45.0), (7.6, 39.0), (11.4, 23.0), (5.6, 15.0)][int(rng.integers(0, 5))]
    shapes: list[Shape] = []
    if rng.random() < 0.45:  # boxed: a grid of upright cartridges in a cardboard box
        nx, ny = int(rng.integers(4, 11)), int(rng.integers(2, 6))
        pitch = calibre + 2.5
        hx, hy, hz = nx * pitch / 2 + 3, ny * pitch / 2 + 3, (case_len + calibre) / 2 + 3
        shapes += hollow_box("cardboard", (hx, hy, hz), 1.5)
        for i in range(nx):
            for j in range(ny):
                shapes += _cartridge((-hx + 3 + pitch * (i + 0.5), -hy + 3 + pitch * (j + 0.5), -calibre * 0.3), np.eye(3), calibre, case_len)
        name = "ammo_box"
    else:
        for _ in range(int(rng.integers(1, 9))):
            rot = rotation_matrix(rng.uniform(0, 2 * np.pi), np.pi / 2 + rng.uniform(-0.3, 0.3), 0)
            shapes += _cartridge((rng.uniform(-30, 30), rng.uniform(-25, 25), 0), rot, calibre, case_len)
        name = "ammo_loose"
    return [_obj(name, "ammunition", shapes, calibre_mm=calibre)]


# ---------------------------------------------------------------- blades and look-alikes
def knife(rng: np.random.Generator) -> list[SceneObject]:
    kind = str(rng.choice(list(ol.KNIFE_BLADES)))
    s = rng.uniform(0.8, 1.25)
    blade = ol.jitter(ol.KNIFE_BLADES[kind], rng, s, 0.03)
    shapes = [prism("stainless", blade, rng.uniform(1.5, 3.0) if kind != "utility" else 0.6)]
    handle = ol.jitter(ol.KNIFE_HANDLES[kind], rng, s, 0.02)
    hmat = str(rng.choice(["polypropylene", "wood", "abs", "aluminium", "stainless"], p=[0.35, 0.25, 0.15, 0.15, 0.1]))
    hthick = {"aluminium": 3.0, "stainless": 2.5}.get(hmat, 14.0)
    shapes.append(prism(hmat, handle, hthick * (2 if hmat in ("aluminium", "stainless") else 1)))
    if kind in ("straight", "kitchen", "dagger") and rng.random() < 0.6:
        shapes.append(prism("stainless", handle * np.array([0.9, 0.35]), 2.0))  # full tang
    return [_obj(f"knife_{kind}", "knife", shapes, kind=kind)]


def throwing_star(rng: np.random.Generator) -> list[SceneObject]:
    """A shuriken: 3-8 points, 60-120 mm across, 1.5-3 mm carbon or stainless steel plate, a central hole;
    some with curved (swept) or serrated points. An edged weapon, so labelled `knife` (docs/taxonomy.md)."""
    points = int(rng.integers(3, 9))
    diameter = rng.uniform(60, 120)
    outer = diameter / 2
    inner = outer * rng.uniform(0.28, 0.5)
    style = str(rng.choice(["straight", "curved", "serrated"], p=[0.5, 0.3, 0.2]))
    sweep = rng.uniform(0.25, 0.7) * np.pi / points * rng.choice([-1.0, 1.0]) if style == "curved" else 0.0
    teeth = int(rng.integers(3, 6)) if style == "serrated" else 0
    outline = ol.jitter(ol.star_outline(points, outer, inner, sweep=sweep, teeth=teeth, tooth=rng.uniform(1.0, 2.5)), rng, 1.0, 0.01)
    thickness = rng.uniform(1.5, 3.0)
    material = "steel" if rng.random() < 0.6 else "stainless"
    hole = max(inner * rng.uniform(0.25, 0.6), 3.0)
    shapes = [prism(material, outline, thickness), prism(material, ol.ring_path(hole, hole, 20), thickness, sign=-1.0)]
    return [_obj(f"throwing_star_{style}", "knife", shapes, kind="throwing_star", points=points, diameter_mm=round(diameter, 1),
                 thickness_mm=round(thickness, 2), style=style)]


# Razor blades: outline, thickness range [mm], material. Double-edge safety blades are 0.1 mm stainless; single-edge
# blades about 0.23 mm carbon steel with a folded spine; utility and snap-off cutter refills 0.4-0.6 mm.
RAZOR_BLADES: dict[str, tuple[np.ndarray, tuple[float, float], str]] = {
    "double_edge": (ol.DE_BLADE, (0.09, 0.11), "stainless"),
    "single_edge": (ol.SE_BLADE, (0.2, 0.3), "steel"),
    "utility": (ol.UTILITY_BLADE, (0.5, 0.65), "steel"),
    "snap_off": (ol.SNAP_OFF_BLADE, (0.38, 0.5), "steel"),
}


def razor_blade(rng: np.random.Generator) -> list[SceneObject]:
    """One razor blade loose (half of them) or a pack of 5-10 stacked in their dispenser, each blade a little
    askew. A single 0.1 mm blade attenuates a few percent (often too faint to label); a pack is clearly seen."""
    kind = str(rng.choice(list(RAZOR_BLADES), p=[0.4, 0.2, 0.25, 0.15]))
    outline, (t0, t1), material = RAZOR_BLADES[kind]
    thickness = rng.uniform(t0, t1)
    count = int(rng.integers(5, 11)) if rng.random() < 0.5 else 1
    wrapped = kind == "double_edge" and (count > 1 or rng.random() < 0.5)  # each DE blade in its paper wrapper
    step = thickness + (0.1 if wrapped else 0.02)
    shapes: list[Shape] = []
    for i in range(count):
        at = (rng.normal(0, 0.3) if count > 1 else 0.0, rng.normal(0, 0.3) if count > 1 else 0.0, (i - (count - 1) / 2) * step)
        rot = rotation_matrix(rng.normal(0, 0.02) if count > 1 else 0.0)
        shapes.append(prism(material, ol.jitter(outline, rng, 1.0, 0.005), thickness, at=at, rot=rot))
        if kind == "double_edge":
            shapes.append(prism(material, ol.DE_BLADE_SLOT, thickness, at=at, rot=rot, sign=-1.0))
        elif kind == "single_edge":
            shapes.append(prism(material, ol.SE_SPINE, 2 * 0.25, at=at, rot=rot))  # strip folded over the back
        if wrapped:
            shapes.append(box("paper", (23.0, 12.5, 0.05), at=at, rot=rot))
    x0, y0 = outline.min(axis=0)
    x1, y1 = outline.max(axis=0)
    if count > 1:
        case = "polypropylene" if rng.random() < 0.6 else "cardboard"
        wall = 1.0 if case == "polypropylene" else 0.5
        half = ((x1 - x0) / 2 + 1.5 + wall, (y1 - y0) / 2 + 1.5 + wall, count * step / 2 + 1.0 + wall)
        shapes += hollow_box(case, half, wall, at=((x0 + x1) / 2, (y0 + y1) / 2, 0.0))
    name = f"razor_{'pack_' if count > 1 else ''}{kind}"
    return [_obj(name, "knife", shapes, kind="razor_blade", blade=kind, count=count, thickness_mm=round(thickness, 3))]


def scissors(rng: np.random.Generator) -> list[SceneObject]:
    s = rng.uniform(0.7, 1.2)
    open_angle = rng.uniform(0, 0.4)
    shapes = []
    for sign in (1, -1):
        r = rotation_matrix(sign * open_angle / 2)
        shapes.append(prism("stainless", ol.SCISSORS_BLADE * s, 2.0, rot=r, at=(0, 0, sign * 1.0)))
        ring = ol.ring_path(22 * s, 12 * s) + np.array([-35 * s, sign * 14 * s])
        ring = ring @ r[:2, :2].T
        shapes.append(polyline(str(rng.choice(["polypropylene", "abs", "stainless"], p=[0.5, 0.3, 0.2])), ring, 6.0))
    shapes.append(cylinder("steel", 3.5, 3.0))
    return [_obj("scissors", "scissors", shapes)]


def tool(rng: np.random.Generator) -> list[SceneObject]:
    kind = str(rng.choice(["wrench", "pliers", "screwdriver", "hammer"]))
    s = rng.uniform(0.8, 1.4)
    if kind == "wrench":
        shapes = [prism("steel", ol.jitter(ol.WRENCH, rng, s, 0.02), 6.0 * s)]
    elif kind == "pliers":
        shapes = []
        for sign in (1, -1):
            r = rotation_matrix(sign * 0.08)
            shapes.append(prism("steel", ol.PLIERS_JAW * s * np.array([1, sign]), 9.0, rot=r))
            shapes.append(prism("steel", ol.PLIERS_HANDLE * s * np.array([1, sign]), 8.0, rot=r))
            shapes.append(prism("pvc", ol.PLIERS_HANDLE[1:] * s * np.array([0.9, sign]) + np.array([-10, 0]), 14.0, rot=r))
    elif kind == "screwdriver":
        shaft = rng.uniform(60, 200) * s
        shapes = [cylinder("steel", 3.0, shaft / 2, at=(shaft / 2, 0, 0), rot=along_x()),
                  cylinder(str(rng.choice(["abs", "polypropylene", "wood"])), 14.0, 50.0, at=(-50, 0, 0), rot=along_x())]
    else:
        shapes = [box("steel", (16, 55 * s, 14)), cylinder("wood", 14, 140 * s, at=(-140 * s - 14, 0, 0), rot=along_x())]
    return [_obj(f"tool_{kind}", "tool", shapes, kind=kind)]


# ---------------------------------------------------------------- drugs
POWDERS = ("cocaine_hcl", "heroin", "methamphetamine_hcl")


def _bag_axes(mass_g: float, density: float, flat: float) -> tuple[float, float, float]:
    volume_mm3 = mass_g / density * 1000.0
    a = (volume_mm3 / (4 / 3 * np.pi * 0.7 * flat)) ** (1 / 3)
    return a, 0.7 * a, flat * a


def powder_bag(rng: np.random.Generator, mass_g: float | None = None) -> SceneObject:
    material = str(rng.choice(POWDERS))
    mass = mass_g if mass_g is not None else float(np.exp(rng.uniform(np.log(1.0), np.log(1000.0))))
    axes = _bag_axes(mass, get_material(material).density, rng.uniform(0.18, 0.35))
    shapes = [ellipsoid(material, axes, texture=0.12)]
    shapes += hollow_ellipsoid("polyethylene", tuple(a + 0.15 for a in axes), 0.15)  # type: ignore[arg-type]
    return _obj(f"bag_{material}", "drug_bulk", shapes, mass_g=round(mass, 1), form="powder_bag")


def drug_bulk(rng: np.random.Generator) -> list[SceneObject]:
    form = str(rng.choice(["bag", "bags", "brick", "herbal", "liquid", "sheet", "crystal"], p=[0.25, 0.15, 0.18, 0.14, 0.08, 0.1, 0.1]))
    if form == "bag":
        return [powder_bag(rng)]
    if form == "bags":
        n = int(rng.integers(2, 7))
        bags = [powder_bag(rng, float(np.exp(rng.uniform(np.log(2), np.log(60))))) for _ in range(n)]
        cols = int(np.ceil(np.sqrt(n)))
        for k, b in enumerate(bags):  # a loose cluster, offsets in the group's frame
            step = 2.2 * b.extent[0] + 4
            off = np.array([(k % cols) * step, (k // cols) * step, rng.uniform(-5, 5)])
            b.shapes = [s.transformed(off, rotation_matrix(rng.uniform(0, np.pi))) for s in b.shapes]
            b.extent = _extent(b.shapes)
            b.info["group_offset"] = True
        return bags
    if form == "brick":
        material = str(rng.choice(["cocaine_brick", "cannabis_pressed", "heroin"]))
        mass = rng.uniform(250, 1100)
        dens = get_material(material).density
        vol = mass / dens * 1000
        hz = rng.uniform(18, 28)
        hx = np.sqrt(vol / (8 * hz) * rng.uniform(1.3, 1.8))
        hy = vol / (8 * hz * hx)
        shapes = [box(material, (hx, hy, hz))]
        shapes += hollow_box("polyethylene", (hx + 0.6, hy + 0.6, hz + 0.6), 0.6)
        if rng.random() < 0.4:
            shapes += hollow_box("rubber", (hx + 1.6, hy + 1.6, hz + 1.6), 1.0)  # taped / wrapped
        return [_obj(f"brick_{material}", "drug_bulk", shapes, mass_g=round(mass), form="brick")]
    if form == "herbal":
        mass = float(np.exp(rng.uniform(np.log(5), np.log(800))))
        axes = _bag_axes(mass, get_material("cannabis").density, rng.uniform(0.3, 0.5))
        shapes = [ellipsoid("cannabis", axes, texture=0.35)]
        shapes += hollow_ellipsoid("polyethylene", tuple(a + 0.2 for a in axes), 0.2)  # type: ignore[arg-type]
        return [_obj("herbal_bundle", "drug_bulk", shapes, mass_g=round(mass, 1), form="herbal")]
    if form == "liquid":
        r, h = rng.uniform(20, 40), rng.uniform(50, 110)
        mat = "glass" if rng.random() < 0.4 else "polyethylene"
        shapes = tube(mat, r, h, 2.5 if mat == "glass" else 1.0, rot=along_x(), closed=True)
        shapes.append(cylinder("drug_solution", r - 2.5, h - 2.5, rot=along_x()))
        return [_obj("drug_liquid", "drug_bulk", shapes, form="liquid")]
    if form == "crystal":
        mass = float(np.exp(rng.uniform(np.log(1), np.log(300))))
        axes = _bag_axes(mass, 0.9, rng.uniform(0.25, 0.4))
        shapes = [ellipsoid("methamphetamine_hcl", axes, texture=0.3, density_scale=rng.uniform(0.6, 0.9))]
        shapes += hollow_ellipsoid("polyethylene", tuple(a + 0.15 for a in axes), 0.15)  # type: ignore[arg-type]
        return [_obj("crystal_bag", "drug_bulk", shapes, mass_g=round(mass, 1), form="crystal")]
    # sheet: powder spread flat in a sleeve, hidden in a letter or a double bottom
    material = str(rng.choice(POWDERS))
    hx, hy, hz = rng.uniform(40, 90), rng.uniform(30, 65), rng.uniform(1.5, 4.0)
    shapes = [box(material, (hx, hy, hz), texture=0.1)] + hollow_box("polyethylene", (hx + 0.2, hy + 0.2, hz + 0.2), 0.2)
    return [_obj("drug_sheet", "drug_bulk", shapes, form="sheet", mass_g=round(8 * hx * hy * hz / 1000 * get_material(material).density, 1))]


def _tablet(rng_shape: str, material: str, at, rot, d: float, h: float) -> Shape:
    if rng_shape == "round":
        return cylinder(material, d / 2, h / 2, at, rot)
    return ellipsoid(material, (d * 0.8, d / 2.6, h / 2), at, rot)


def drug_tablets(rng: np.random.Generator) -> list[SceneObject]:
    form = str(rng.choice(["loose_bag", "blister", "capsules"], p=[0.5, 0.3, 0.2]))
    material = "mdma_tablet" if rng.random() < 0.7 else "pharma_tablet"
    shapes: list[Shape] = []
    if form == "blister":
        nx, ny = int(rng.integers(2, 6)), int(rng.integers(2, 4))
        d, h, pitch = rng.uniform(7, 11), rng.uniform(3, 5), rng.uniform(12, 16)
        hx, hy = nx * pitch / 2 + 4, ny * pitch / 2 + 4
        shapes.append(box("pvc", (hx, hy, 0.15)))
        shapes.append(box("aluminium", (hx, hy, 0.012), at=(0, 0, -h / 2)))
        for i in range(nx):
            for j in range(ny):
                at = (-hx + 4 + pitch * (i + 0.5), -hy + 4 + pitch * (j + 0.5), 0.0)
                shapes.append(_tablet("round" if rng.random() < 0.6 else "oval", material, at, np.eye(3), d, h))
        n_sheets = int(rng.integers(1, 4))
        base = list(shapes)
        for k in range(1, n_sheets):
            shapes += [s.transformed(np.array([rng.uniform(-5, 5), rng.uniform(-5, 5), 5.0 * k]), np.eye(3)) for s in base]
        return [_obj("blister", "drug_tablets", shapes, form="blister", count=nx * ny * n_sheets)]
    n = int(rng.integers(8, 90))
    if form == "capsules":
        mat_shell, d, h = "gelatin", rng.uniform(6, 8), rng.uniform(18, 23)
    else:
        mat_shell, d, h = material, rng.uniform(6, 10), rng.uniform(3, 5)
    spread = np.sqrt(n) * d * 0.7
    round_ = rng.random() < 0.6
    for _ in range(n):
        at = (rng.normal(0, spread / 2), rng.normal(0, spread / 2.5), rng.uniform(-6, 6))
        rot = rotation_matrix(rng.uniform(0, 2 * np.pi), rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5))
        if form == "capsules":
            shapes += hollow_ellipsoid("gelatin", (h / 2, d / 2, d / 2), 0.12, at, rot)
            shapes.append(ellipsoid(material, (h / 2 - 0.5, d / 2 - 0.5, d / 2 - 0.5), at, rot, density_scale=0.55))
        else:
            shapes.append(_tablet("round" if round_ else "oval", material, at, rot, d, h))
    shapes.append(ellipsoid("polyethylene", (spread + 10, spread * 0.85 + 10, 10), density_scale=0.03))  # thin bag
    return [_obj("tablets_" + form, "drug_tablets", shapes, form=form, count=n, shell=mat_shell)]


THREAT_BUILDERS: dict[str, dict[str, Builder]] = {
    "firearm": {"pistol": pistol, "revolver": revolver},
    "firearm_part": {"slide": slide, "barrel": barrel, "frame": frame, "bolt": bolt, "trigger_group": trigger_group,
                     "springs": spring_set, "suppressor": suppressor, "kit": parts_kit},
    "magazine": {"magazine": magazine},
    "ammunition": {"ammunition": ammunition},
    "knife": {"knife": knife, "throwing_star": throwing_star, "razor_blade": razor_blade},
    "drug_bulk": {"drug_bulk": drug_bulk},
    "drug_tablets": {"drug_tablets": drug_tablets},
    "scissors": {"scissors": scissors},
    "tool": {"tool": tool},
}
