"""Containers and benign clutter typical of mail and luggage, as 3D shapes with real materials.

Builders return `SceneObject`s in their local frame. Containers also report the interior half
extents (`extent`) in which the scene sampler places contents.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from xscreen.datasets.synth import outlines as ol
from xscreen.datasets.synth.objects import (
    SceneObject,
    along_x,
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
from xscreen.datasets.synth.threats import _extent

ClutterBuilder = Callable[[np.random.Generator], SceneObject]


def _c(name: str, shapes: list[Shape], **info) -> SceneObject:
    return SceneObject(name=name, shapes=shapes, label=None, role="clutter", extent=_extent(shapes), info=info)


# ---------------------------------------------------------------- containers
def cardboard_box(rng: np.random.Generator) -> SceneObject:
    hx, hy, hz = rng.uniform(90, 300), rng.uniform(70, 220), rng.uniform(40, 180)
    wall = rng.uniform(3, 7)
    shapes = hollow_box("cardboard", (hx, hy, hz), wall)
    for s in shapes:
        s.density_scale = 0.35  # corrugated board is mostly air
    shapes.append(box("polypropylene", (hx, rng.uniform(20, 30), 0.05), at=(0, 0, hz)))  # tape
    return SceneObject("cardboard_box", shapes, role="container", extent=(hx - wall, hy - wall, hz - wall))


def envelope(rng: np.random.Generator) -> SceneObject:
    hx, hy = rng.uniform(80, 170), rng.uniform(55, 120)
    shapes = hollow_box("paper", (hx, hy, 1.0), 0.1)
    sheets = int(rng.integers(0, 6))
    if sheets:
        shapes.append(box("paper", (hx * 0.9, hy * 0.9, 0.05 * sheets), texture=0.05))
    return SceneObject("letter", shapes, role="container", extent=(hx - 4, hy - 4, 2.0))


def padded_envelope(rng: np.random.Generator) -> SceneObject:
    hx, hy, hz = rng.uniform(100, 200), rng.uniform(80, 150), rng.uniform(8, 25)
    shapes = hollow_box("paper", (hx, hy, hz), 0.15)
    shapes += [box("polyethylene", (hx - 1, hy - 1, 2.5), at=(0, 0, z), density_scale=0.04, texture=0.5) for z in (-hz + 3, hz - 3)]
    return SceneObject("padded_envelope", shapes, role="container", extent=(hx - 8, hy - 8, hz - 5))


def plastic_mailer(rng: np.random.Generator) -> SceneObject:
    hx, hy, hz = rng.uniform(120, 250), rng.uniform(100, 200), rng.uniform(10, 50)
    shapes = hollow_ellipsoid("polyethylene", (hx * 1.15, hy * 1.15, hz), 0.08)
    return SceneObject("plastic_mailer", shapes, role="container", extent=(hx * 0.9, hy * 0.9, hz * 0.6))


def suitcase(rng: np.random.Generator) -> SceneObject:
    hx, hy, hz = rng.uniform(230, 380), rng.uniform(160, 260), rng.uniform(90, 140)
    shell = str(rng.choice(["abs", "polypropylene", "textile"]))
    shapes = hollow_box(shell, (hx, hy, hz), 2.5 if shell != "textile" else 6.0)
    # Trolley: two aluminium rails along x on the bottom, wheels and a handle: the green bars in SIXray.
    rail_y = hy * rng.uniform(0.35, 0.6)
    for sgn in (1, -1):
        shapes += hollow_box("aluminium", (hx * 0.95, 11, 6), 1.2, at=(0, sgn * rail_y, -hz + 10))
        for wx in (-hx + 20, hx - 20) if rng.random() < 0.5 else (-hx + 20,):
            shapes.append(cylinder("rubber", 22, 9, at=(wx, sgn * (hy - 20), -hz + 12), rot=along_x() @ rotation_matrix(0, 0, np.pi / 2)))
            shapes.append(cylinder("steel", 3, 14, at=(wx, sgn * (hy - 20), -hz + 12), rot=rotation_matrix(0, 0, np.pi / 2)))
    # zip along the rim, metal slider
    zip_path = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy], [-hx, -hy]]) * 0.98
    shapes.append(polyline("zinc_alloy", zip_path, 0.8, density_scale=0.5))
    shapes.append(box("zinc_alloy", (12, 6, 4), at=(hx * 0.98, rng.uniform(-hy, hy) * 0.8, 0)))
    return SceneObject("suitcase_" + shell, shapes, role="container", extent=(hx - 15, hy - 15, hz - 20))


def soft_bag(rng: np.random.Generator) -> SceneObject:
    hx, hy, hz = rng.uniform(180, 320), rng.uniform(140, 220), rng.uniform(60, 120)
    shapes = hollow_ellipsoid("textile", (hx * 1.1, hy * 1.1, hz), 5.0)
    for s in shapes:
        s.texture = 0.4
    shapes.append(polyline("zinc_alloy", ol.ring_path(hx * 0.9, hy * 0.5, 16) * np.array([1, 0.3]) + np.array([0, hy * 0.5]), 0.8, density_scale=0.5))
    for _ in range(int(rng.integers(2, 6))):  # buckles, rivets
        shapes.append(box("zinc_alloy", (rng.uniform(4, 12), rng.uniform(3, 8), 2), at=(rng.uniform(-hx, hx), rng.uniform(-hy, hy), 0)))
    return SceneObject("soft_bag", shapes, role="container", extent=(hx * 0.8, hy * 0.8, hz * 0.6))


CONTAINERS: dict[str, ClutterBuilder] = {
    "cardboard_box": cardboard_box,
    "letter": envelope,
    "padded_envelope": padded_envelope,
    "plastic_mailer": plastic_mailer,
    "suitcase": suitcase,
    "soft_bag": soft_bag,
}


# ---------------------------------------------------------------- clutter
def clothes(rng: np.random.Generator) -> SceneObject:
    shapes = []
    for _ in range(int(rng.integers(1, 4))):
        ax = (rng.uniform(60, 170), rng.uniform(50, 130), rng.uniform(8, 30))
        shapes.append(ellipsoid("textile", ax, at=(rng.uniform(-30, 30), rng.uniform(-30, 30), 0), rot=rotation_matrix(rng.uniform(0, np.pi)),
                                texture=0.45, density_scale=rng.uniform(0.4, 0.8)))
    if rng.random() < 0.3:  # buttons, a zip
        for _ in range(int(rng.integers(3, 7))):
            shapes.append(cylinder(str(rng.choice(["abs", "zinc_alloy"])), 5, 1.2, at=(rng.uniform(-40, 40), rng.uniform(-60, 60), 0)))
    return _c("clothes", shapes)


def book(rng: np.random.Generator) -> SceneObject:
    hx, hy, hz = rng.uniform(60, 130), rng.uniform(45, 95), rng.uniform(4, 22)
    return _c("book", [box("paper", (hx, hy, hz), texture=0.03)], size=(hx, hy, hz))


def shoe(rng: np.random.Generator) -> SceneObject:
    length = rng.uniform(110, 150)
    shapes = [prism("rubber", np.array([[-length, -35], [length * 0.9, -40], [length, 0], [length * 0.9, 40], [-length, 35]]), rng.uniform(15, 30))]
    shapes += hollow_ellipsoid("leather", (length * 0.9, 42, 45), 2.0, at=(0, 0, 30))
    if rng.random() < 0.3:
        shapes.append(box("steel", (40, 6, 1), at=(-20, 0, 0)))  # shank
    return _c("shoe", shapes)


def bottle(rng: np.random.Generator) -> SceneObject:
    r, h = rng.uniform(15, 40), rng.uniform(40, 110)
    mat = str(rng.choice(["polyethylene", "glass", "pvc"], p=[0.55, 0.3, 0.15]))
    wall = 3.0 if mat == "glass" else 1.0
    shapes = tube(mat, r, h, wall, rot=along_x(), closed=True)
    fill = rng.uniform(0.3, 1.0)
    shapes.append(cylinder(str(rng.choice(["water", "cream", "soap"])), r - wall, (h - wall) * fill, at=(-(h - wall) * (1 - fill), 0, 0), rot=along_x()))
    shapes.append(cylinder("polypropylene", r * 0.6, 10, at=(h + 10, 0, 0), rot=along_x()))  # cap
    if rng.random() < 0.3:
        shapes.append(polyline("steel", ol.spring_path(10, 4, 5) + np.array([h + 10, 0]), 0.3))  # pump spring
    return _c("bottle_" + mat, shapes)


def jar(rng: np.random.Generator) -> SceneObject:
    r, h = rng.uniform(25, 45), rng.uniform(20, 50)
    mat = "glass" if rng.random() < 0.5 else "polypropylene"
    shapes = tube(mat, r, h, 3.0 if mat == "glass" else 1.5, closed=True)
    shapes.append(cylinder("cream", r - 3, h - 3))
    shapes.append(cylinder("aluminium" if rng.random() < 0.5 else "polypropylene", r + 1, 4, at=(0, 0, h + 4)))
    return _c("jar", shapes)


def can(rng: np.random.Generator) -> SceneObject:
    r, h = rng.uniform(30, 50), rng.uniform(30, 70)
    mat = "steel" if rng.random() < 0.6 else "aluminium"
    shapes = tube(mat, r, h, 0.2 if mat == "steel" else 0.12, rot=along_x() if rng.random() < 0.5 else None, closed=True)
    shapes.append(cylinder(str(rng.choice(["food", "water", "sugar", "coffee"])), r - 0.5, h - 1.0, rot=shapes[0].rotation))
    return _c("can_" + mat, shapes)


def food_pack(rng: np.random.Generator) -> SceneObject:
    kind = str(rng.choice(["coffee", "tea", "snack", "flour", "sugar"]))
    hx, hy, hz = rng.uniform(40, 100), rng.uniform(30, 70), rng.uniform(15, 45)
    mat = {"coffee": "coffee", "tea": "coffee", "snack": "food", "flour": "flour", "sugar": "sugar"}[kind]
    shapes = [box(mat, (hx, hy, hz), texture=0.2, density_scale=0.3 if kind in ("snack", "tea") else 1.0)]
    if kind in ("coffee", "snack"):
        shapes += hollow_box("aluminium", (hx + 0.1, hy + 0.1, hz + 0.1), 0.01)  # foil laminate
    else:
        shapes += hollow_box("cardboard", (hx + 0.6, hy + 0.6, hz + 0.6), 0.6)
    return _c("food_" + kind, shapes)


def phone(rng: np.random.Generator) -> SceneObject:
    hx, hy = rng.uniform(65, 82), rng.uniform(31, 38)
    shapes = [box("glass", (hx, hy, 0.5), at=(0, 0, 3.5)), box("glass", (hx, hy, 0.4), at=(0, 0, -3.5))]
    shapes += hollow_box("aluminium", (hx, hy, 4.0), 1.2)
    shapes.append(box("li_ion_cell", (hx * 0.55, hy * 0.8, 2.2), at=(-hx * 0.2, 0, 0)))
    shapes.append(box("pcb", (hx * 0.3, hy * 0.8, 0.8), at=(hx * 0.6, 0, 0)))
    shapes.append(box("steel", (6, 8, 1.5), at=(hx * 0.7, hy * 0.5, 1)))  # camera, shields
    return _c("phone", shapes)


def charger(rng: np.random.Generator) -> SceneObject:
    s = rng.uniform(18, 35)
    shapes = hollow_box("abs", (s, s, s * 0.8), 1.5)
    shapes.append(box("pcb", (s * 0.8, s * 0.7, 0.8)))
    shapes.append(cylinder("copper", s * 0.35, s * 0.3, density_scale=0.6))  # transformer
    shapes += [box("brass", (8, 1, 3), at=(s + 8, sgn * 6, 0)) for sgn in (1, -1)]
    path = np.cumsum(rng.normal(0, 25, (12, 2)), axis=0) + np.array([s + 20, 0])
    shapes.append(polyline("pvc", path, 4.0))
    shapes.append(polyline("copper", path, 1.2, density_scale=0.5))
    return _c("charger", shapes)


def cable(rng: np.random.Generator) -> SceneObject:
    n = int(rng.integers(8, 25))
    steps = rng.normal(0, 1, (n, 2))
    steps = steps / np.linalg.norm(steps, axis=1, keepdims=True) * rng.uniform(15, 35)
    path = np.cumsum(steps, axis=0)
    path -= path.mean(axis=0)
    d = rng.uniform(3, 7)
    shapes = [polyline("pvc", path, d), polyline("copper", path, d * 0.35, density_scale=0.7)]
    shapes.append(box("steel", (7, 4, 2), at=(path[0][0], path[0][1], 0)))
    return _c("cable", shapes)


def laptop(rng: np.random.Generator) -> SceneObject:
    hx, hy = rng.uniform(140, 180), rng.uniform(95, 120)
    mat = "aluminium" if rng.random() < 0.6 else "abs"
    shapes = hollow_box(mat, (hx, hy, 9), 1.0 if mat == "aluminium" else 2.0)
    shapes.append(box("glass", (hx - 5, hy - 5, 0.5), at=(0, 0, 7)))
    for k in range(int(rng.integers(3, 7))):  # pouch cells along the front edge
        shapes.append(box("li_ion_cell", (18, 35, 3), at=(-hx + 30 + k * 40, -hy + 45, -3)))
    shapes.append(box("pcb", (hx * 0.45, hy * 0.35, 0.8), at=(hx * 0.3, hy * 0.4, 0)))
    shapes.append(box("copper", (30, 10, 2), at=(hx * 0.3, hy * 0.4, 2)))  # heat pipe / sink
    for _ in range(10):
        shapes.append(cylinder("steel", 1.2, 3, at=(rng.uniform(-hx, hx), rng.uniform(-hy, hy), 0)))  # screws
    return _c("laptop", shapes)


def power_bank(rng: np.random.Generator) -> SceneObject:
    n = int(rng.integers(1, 5))
    shapes = hollow_box("abs" if rng.random() < 0.6 else "aluminium", (35 + 0.0, 11 * n + 4, 13), 1.5)
    for k in range(n):  # 18650 cells: steel can around the electrode roll
        y = -11 * n + 11 + 22 * k
        shapes += tube("steel", 9.2, 32.5, 0.25, at=(0, y, 0), rot=along_x(), closed=True)
        shapes.append(cylinder("li_ion_cell", 8.9, 32.0, at=(0, y, 0), rot=along_x()))
    shapes.append(box("pcb", (6, 11 * n, 0.8), at=(38, 0, 0)))
    return _c("power_bank", shapes)


def pcb_board(rng: np.random.Generator) -> SceneObject:
    hx, hy = rng.uniform(20, 90), rng.uniform(15, 60)
    shapes = [box("pcb", (hx, hy, 0.8))]
    for _ in range(int(rng.integers(3, 12))):
        shapes.append(box(str(rng.choice(["ceramic", "steel", "aluminium", "copper"])), (rng.uniform(2, 8), rng.uniform(2, 8), rng.uniform(0.5, 4)),
                          at=(rng.uniform(-hx, hx) * 0.8, rng.uniform(-hy, hy) * 0.8, 2)))
    return _c("pcb", shapes)


def toy(rng: np.random.Generator) -> SceneObject:
    shapes = []
    for _ in range(int(rng.integers(1, 4))):
        ax = (rng.uniform(15, 60), rng.uniform(15, 45), rng.uniform(10, 35))
        shapes += hollow_ellipsoid(str(rng.choice(["polyethylene", "abs", "pvc"])), ax, rng.uniform(1.5, 3), at=(rng.uniform(-30, 30), rng.uniform(-30, 30), 0))
    if rng.random() < 0.4:
        shapes.append(box("steel", (8, 5, 3), density_scale=0.5))  # motor / screws
        shapes += [box("li_ion_cell", (25, 7, 7), at=(0, 12, 0))]
    return _c("toy", shapes)


def coins(rng: np.random.Generator) -> SceneObject:
    shapes = []
    for _ in range(int(rng.integers(1, 12))):
        shapes.append(cylinder(str(rng.choice(["brass", "steel", "copper", "zinc_alloy"])), rng.uniform(8, 14), rng.uniform(0.7, 1.2),
                               at=(rng.normal(0, 18), rng.normal(0, 18), rng.uniform(-3, 3)), rot=rotation_matrix(0, rng.uniform(-0.3, 0.3), 0)))
    return _c("coins", shapes)


def jewellery(rng: np.random.Generator) -> SceneObject:
    shapes = []
    for _ in range(int(rng.integers(1, 5))):
        mat = str(rng.choice(["gold", "silver", "stainless", "brass"]))
        if rng.random() < 0.5:
            r = rng.uniform(8, 12)
            shapes.append(polyline(mat, ol.ring_path(r, r, 20) + rng.normal(0, 15, 2), rng.uniform(1.5, 3)))
        else:
            path = np.cumsum(rng.normal(0, 6, (20, 2)), axis=0)
            shapes.append(polyline(mat, path, 1.0, density_scale=0.6))  # chain
    return _c("jewellery", shapes)


def keys(rng: np.random.Generator) -> SceneObject:
    shapes = [polyline("steel", ol.ring_path(14, 14, 20), 1.5)]
    for k in range(int(rng.integers(1, 5))):
        a = rng.uniform(0, 2 * np.pi)
        outline = np.array([[0, -4], [45, -3], [50, 0], [45, 4], [0, 5], [-10, 12], [-20, 0], [-10, -12]]) * rng.uniform(0.8, 1.2)
        c, s = np.cos(a), np.sin(a)
        outline = outline @ np.array([[c, s], [-s, c]]) + np.array([np.cos(a), np.sin(a)]) * 30
        shapes.append(prism(str(rng.choice(["brass", "steel"])), outline, 2.0))
    return _c("keys", shapes)


def packing(rng: np.random.Generator) -> SceneObject:
    kind = str(rng.choice(["paper", "foam", "bubble"]))
    ax = (rng.uniform(50, 160), rng.uniform(40, 120), rng.uniform(10, 40))
    mat, dens = {"paper": ("paper", 0.08), "foam": ("foam", 1.0), "bubble": ("polyethylene", 0.02)}[kind]
    return _c("packing_" + kind, [ellipsoid(mat, ax, texture=0.7, density_scale=dens)])


def battery_pack(rng: np.random.Generator) -> SceneObject:
    shapes = []
    n = int(rng.integers(2, 9))
    for k in range(n):
        shapes += tube("steel", 7.2, 25, 0.25, at=(0, 15 * k, 0), rot=along_x(), closed=True)
        shapes.append(cylinder("zinc_alloy", 6.8, 24, at=(0, 15 * k, 0), rot=along_x(), density_scale=0.45))
    return _c("batteries", shapes)


def belt(rng: np.random.Generator) -> SceneObject:
    path = ol.ring_path(rng.uniform(60, 110), rng.uniform(40, 70), 24)
    shapes = [polyline("leather", path, 30.0, density_scale=0.15), box("zinc_alloy", (25, 20, 3), at=(path[0][0], path[0][1], 0))]
    return _c("belt", shapes)


def umbrella(rng: np.random.Generator) -> SceneObject:
    length = rng.uniform(110, 160)
    shapes = tube("steel", 6, length, 0.5, rot=along_x())
    shapes.append(ellipsoid("textile", (length * 0.8, 25, 20), texture=0.5))
    for k in range(6):
        shapes.append(polyline("steel", np.array([[-length * 0.7, (k - 3) * 4], [length * 0.8, (k - 3) * 7]]), 1.5))
    return _c("umbrella", shapes)


# How often each kind turns up, relative: parcels and bags are mostly soft goods, paper and packing.
CLUTTER_WEIGHTS: dict[str, float] = {
    "clothes": 3.0, "book": 1.5, "shoe": 0.8, "bottle": 1.0, "jar": 0.5, "can": 0.6, "food_pack": 1.0, "phone": 0.5,
    "charger": 0.7, "cable": 1.2, "laptop": 0.3, "power_bank": 0.4, "pcb": 0.5, "toy": 0.8, "coins": 0.5, "jewellery": 0.4,
    "keys": 0.5, "packing": 1.5, "batteries": 0.4, "belt": 0.5, "umbrella": 0.3,
}

CLUTTER: dict[str, ClutterBuilder] = {
    "clothes": clothes, "book": book, "shoe": shoe, "bottle": bottle, "jar": jar, "can": can, "food_pack": food_pack,
    "phone": phone, "charger": charger, "cable": cable, "laptop": laptop, "power_bank": power_bank, "pcb": pcb_board,
    "toy": toy, "coins": coins, "jewellery": jewellery, "keys": keys, "packing": packing, "batteries": battery_pack,
    "belt": belt, "umbrella": umbrella,
}
