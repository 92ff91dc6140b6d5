"""Drug items as customs officers find them in mail and express parcels, in two disjoint families.

Every item starts from a mass (grams, drawn from seizure-sized ranges) and takes its volume from the bulk
density of its material (`vision.xray.materials`), so its size at any pixel pitch follows from physics.
The ranges are express-consignment seizures (tens of grams to a kilogram), not street deals alone: issue 15's
acceptance packages have a median box of 4.7 % of the scan, and the first ranges gave 0.66 %, a third of all
labels 1-10 g bindles under 0.2 % (docs/drugs.md, section 7).
An item is a list of `SceneObject`s sharing one pose: an optional host (role "concealment", unlabelled)
first, then the labelled drug object(s).

- `TRAIN` family: the forms the acceptance test names (film pillows, part-filled zip bags, bindles with a
  twisted neck, crystal shards, herbal with stems, taped vacuum bricks, loose round/oval/scored pills,
  capsules, PVC/aluminium blisters, liquids in bottles) and the concealments customs reports (food tins
  and packets, candles, cosmetics jars, books, toys, clothing, electronics, vape cartridges).
- `HELDOUT` family: never trained on; other packing, materials and hosts (foil wraps, latex pellets,
  ketamine in a glass jar, lactose-cut powder in a greeting card, pills in a vitamin bottle or a foil
  roll; shampoo bottles, chocolate boxes, tea tins, DVD cases). It measures generalisation, not memory.

`drug_item(rng, family)` returns a `DrugItem`; threat image projection (`tip.project_items`) renders it
into real scans and labels it by the visibility rule in `labels.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from xscreen.datasets.synth.objects import (
    SceneObject,
    along_x,
    box,
    cylinder,
    ellipsoid,
    hollow_box,
    hollow_ellipsoid,
    tube,
)
from xscreen.datasets.synth.shapes import Shape, rotation_matrix
from xscreen.datasets.synth.threats import _extent
from xscreen.vision.xray.materials import get_material

POWDERS = ("cocaine_hcl", "heroin", "methamphetamine_hcl")
FAMILIES = ("train", "heldout")


@dataclass
class DrugItem:
    objects: list[SceneObject]  # host first when concealed, then the labelled drug(s)
    form: str
    family: str
    host: str | None = None
    mass_g: float | None = None


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _drug(name: str, label: str, shapes: list[Shape], form: str, mass_g: float | None, **info) -> SceneObject:
    return SceneObject(name=name, shapes=shapes, label=label, role="threat", extent=_extent(shapes),
                       info={"form": form, "mass_g": None if mass_g is None else round(mass_g, 1), **info})


def _axes_for(mass_g: float, material: str, flat: float, aspect: float = 0.7, density_scale: float = 1.0) -> tuple[float, float, float]:
    """Semi-axes (mm) of an ellipsoid of `mass_g` of `material`: a x aspect*a x flat*a."""
    volume_mm3 = mass_g / (get_material(material).density * density_scale) * 1000.0
    a = (volume_mm3 / (4 / 3 * np.pi * aspect * flat)) ** (1 / 3)
    return a, aspect * a, flat * a


# ---------------------------------------------------------------- bulk forms (train family)
def powder_pillow(rng: np.random.Generator) -> SceneObject:
    """Heat-sealed film pillow: a flat cushion of powder, seams thicker than the film."""
    material, mass = str(rng.choice(POWDERS)), _log_uniform(rng, 15, 1500)
    hx, hy, hz = _axes_for(mass, material, rng.uniform(0.15, 0.3))
    shapes = [ellipsoid(material, (hx, hy, hz), texture=0.1)]
    shapes += hollow_ellipsoid("polyethylene", (hx + 0.1, hy + 0.1, hz + 0.1), 0.1)
    for sx in (-1, 1):  # sealed ends
        shapes.append(box("polyethylene", (2.5, hy * 0.8, 0.25), at=(sx * (hx + 1.5), 0, 0)))
    return _drug("powder_pillow", "drug_bulk", shapes, "powder_pillow", mass, material=material)


def zip_bag(rng: np.random.Generator) -> SceneObject:
    """A part-filled zip bag: the powder settles into one end; the zip track is a dense strip."""
    material, mass = str(rng.choice(POWDERS)), _log_uniform(rng, 5, 600)
    vol = mass / get_material(material).density * 1000.0
    fill = rng.uniform(0.35, 0.8)
    thick = rng.uniform(3, 12)
    bx = np.sqrt(vol / (4 * thick * fill) * rng.uniform(1.0, 1.6))
    by = vol / (4 * thick * bx * fill)
    shapes = [box(material, (bx, by * fill, thick / 2), at=(0, -by * (1 - fill), 0), texture=0.15)]
    shapes += hollow_box("polyethylene", (bx + 0.1, by + 0.1, thick / 2 + 0.1), 0.06)
    shapes.append(box("polyethylene", (bx, 1.5, 0.8), at=(0, by - 2, 0)))  # zip track
    return _drug("zip_bag", "drug_bulk", shapes, "zip_bag", mass, material=material, fill=round(fill, 2))


def bindle(rng: np.random.Generator) -> list[SceneObject]:
    """Knotted bindles (2-30 g): a ball of powder in film, the twisted neck a dense tail."""
    n = int(rng.integers(1, 5))
    out = []
    for k in range(n):
        material, mass = str(rng.choice(POWDERS)), _log_uniform(rng, 2, 30)
        r = (mass / get_material(material).density * 1000.0 / (4 / 3 * np.pi * 0.8)) ** (1 / 3)
        shapes = [ellipsoid(material, (r, r, 0.8 * r), texture=0.1)]
        shapes += hollow_ellipsoid("polyethylene", (r + 0.15, r + 0.15, 0.8 * r + 0.15), 0.15)
        shapes.append(cylinder("polyethylene", 1.6, r * 0.6, at=(r + r * 0.55, 0, 0), rot=along_x()))  # neck
        off = np.array([(k % 3) * 3.2 * r, (k // 3) * 3.2 * r, rng.uniform(-3, 3)])
        shapes = [s.transformed(off, rotation_matrix(rng.uniform(0, 2 * np.pi))) for s in shapes]
        out.append(_drug("bindle", "drug_bulk", shapes, "bindle", mass, material=material))
    return out


def crystal_bag(rng: np.random.Generator) -> SceneObject:
    """Crystal meth: layered shards, air between them, in a bag."""
    mass = _log_uniform(rng, 5, 600)
    n = int(np.clip(mass * 3, 12, 120))
    shard_mass = mass / n
    spread = (mass / 0.55 * 1000.0) ** (1 / 3) * 0.8
    shapes: list[Shape] = []
    for _ in range(n):
        side = (shard_mass / 1.15 * 1000.0) ** (1 / 3)
        half = (side * rng.uniform(0.8, 1.6) / 2, side * rng.uniform(0.5, 1.0) / 2, side * rng.uniform(0.2, 0.5) / 2)
        at = (rng.normal(0, spread / 2), rng.normal(0, spread / 2.4), rng.normal(0, spread / 6))
        shapes.append(box("methamphetamine_hcl", half, at=at, rot=rotation_matrix(rng.uniform(0, np.pi), rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6)), density_scale=1.25))
    shapes.append(ellipsoid("polyethylene", (spread * 1.2 + 6, spread + 6, spread / 3 + 3), density_scale=0.02))
    return _drug("crystal_bag", "drug_bulk", shapes, "crystal", mass, material="methamphetamine_hcl")


def herbal(rng: np.random.Generator) -> SceneObject:
    """Herbal cannabis with stems: a loose, textured bud mass and a few denser stems, in a bag."""
    mass = _log_uniform(rng, 20, 1500)
    ax = _axes_for(mass, "cannabis", rng.uniform(0.3, 0.5))
    shapes = [ellipsoid("cannabis", ax, texture=0.45)]
    for _ in range(int(rng.integers(2, 7))):
        length = rng.uniform(0.4, 1.0) * ax[0]
        shapes.append(cylinder("wood", rng.uniform(0.8, 1.8), length / 2, at=(rng.normal(0, ax[0] / 3), rng.normal(0, ax[1] / 3), 0),
                               rot=rotation_matrix(rng.uniform(0, np.pi), np.pi / 2, 0), density_scale=0.7))
    shapes += hollow_ellipsoid("polyethylene", tuple(a + 0.2 for a in ax), 0.2)  # type: ignore[arg-type]
    return _drug("herbal", "drug_bulk", shapes, "herbal", mass, material="cannabis")


def taped_brick(rng: np.random.Generator) -> SceneObject:
    """A pressed, vacuum-packed brick (250 g - 1.5 kg) with bands of packing tape."""
    material = str(rng.choice(["cocaine_brick", "cannabis_pressed", "heroin"]))
    mass = rng.uniform(250, 1500)
    vol = mass / get_material(material).density * 1000
    hz = rng.uniform(14, 28)
    hx = np.sqrt(vol / (8 * hz) * rng.uniform(1.3, 1.8))
    hy = vol / (8 * hz * hx)
    shapes = [box(material, (hx, hy, hz), texture=0.04)] + hollow_box("polyethylene", (hx + 0.3, hy + 0.3, hz + 0.3), 0.3)
    for k in range(int(rng.integers(0, 4))):
        x = rng.uniform(-0.7, 0.7) * hx
        shapes += hollow_box("tape", (12.0, hy + 0.6, hz + 0.6), 0.15, at=(x, 0, 0))
    if rng.random() < 0.4:
        shapes += hollow_box("tape", (hx + 0.8, hy + 0.8, hz + 0.8), 0.3)  # fully taped
    return _drug("taped_brick", "drug_bulk", shapes, "brick", mass, material=material)


def liquid_bottle(rng: np.random.Generator) -> SceneObject:
    """Liquid drug (e.g. cocaine dissolved) in a glass or plastic bottle, partly filled."""
    r, h = rng.uniform(20, 50), rng.uniform(50, 140)
    mat, wall = ("glass", 2.5) if rng.random() < 0.4 else ("polyethylene", 1.0)
    fill = rng.uniform(0.5, 0.95)
    shapes = tube(mat, r, h, wall, rot=along_x(), closed=True)
    shapes.append(cylinder("drug_solution", r - wall, (h - wall) * fill, at=(-(h - wall) * (1 - fill), 0, 0), rot=along_x()))
    mass = np.pi * (r - wall) ** 2 * 2 * (h - wall) * fill * 1.05 / 1000
    return _drug("liquid_bottle", "drug_bulk", shapes, "liquid", mass, material="drug_solution")


def vape_cartridges(rng: np.random.Generator) -> SceneObject:
    """THC vape cartridges: small glass tubes of oil, each with a steel mouthpiece and coil."""
    n = int(rng.integers(1, 11))
    shapes: list[Shape] = []
    for k in range(n):
        at = np.array([0.0, k * 13.0, 0.0])
        shapes += tube("glass", 5.0, 16.0, 0.8, at=at, rot=along_x(), closed=True)
        shapes.append(cylinder("vape_oil", 4.2, 14.0, at=at, rot=along_x()))
        shapes.append(cylinder("steel", 2.0, 6.0, at=at + np.array([20.0, 0, 0]), rot=along_x()))
        shapes.append(cylinder("steel", 1.0, 10.0, at=at, rot=along_x(), density_scale=0.5))  # centre post and coil
    return _drug("vape_cartridges", "drug_bulk", shapes, "vape", n * 1.0, count=n, material="vape_oil")


# ---------------------------------------------------------------- tablets (train family)
def _pill(shape: str, material: str, at, rot, d: float, h: float) -> list[Shape]:
    if shape == "oval":
        return [ellipsoid(material, (d * 0.8, d / 2.6, h / 2), at, rot)]
    pill = [cylinder(material, d / 2, h / 2, at, rot)]
    if shape == "scored":  # the break line: a groove across one face
        pill.append(box(material, (d / 2, 0.5, h * 0.15), at=np.asarray(at) + rot @ np.array([0, 0, h / 2 - h * 0.15]), rot=rot, sign=-1.0))
    return pill


def loose_pills(rng: np.random.Generator) -> SceneObject:
    n = int(rng.integers(20, 300))
    material = "mdma_tablet" if rng.random() < 0.6 else "pharma_tablet"
    shape = str(rng.choice(["round", "oval", "scored"]))
    d, h = rng.uniform(6, 11), rng.uniform(3, 5.5)
    spread = np.sqrt(n) * d * 0.65
    shapes: list[Shape] = []
    for _ in range(n):
        at = (rng.normal(0, spread / 2), rng.normal(0, spread / 2.5), rng.uniform(-6, 6))
        rot = rotation_matrix(rng.uniform(0, 2 * np.pi), rng.uniform(-0.9, 0.9), rng.uniform(-0.9, 0.9))  # some tilted on edge
        shapes += _pill(shape, material, at, rot, d, h)
    shapes.append(ellipsoid("polyethylene", (spread + 10, spread * 0.85 + 10, 10), density_scale=0.03))
    mass = n * np.pi * (d / 2) ** 2 * h * get_material(material).density / 1000
    return _drug("loose_pills", "drug_tablets", shapes, f"pills_{shape}", mass, count=n, material=material)


def capsules(rng: np.random.Generator) -> SceneObject:
    n = int(rng.integers(20, 250))
    d, length = rng.uniform(6, 8.5), rng.uniform(16, 23)
    spread = np.sqrt(n) * d * 0.8
    shapes: list[Shape] = []
    for _ in range(n):
        at = (rng.normal(0, spread / 2), rng.normal(0, spread / 2.5), rng.uniform(-6, 6))
        rot = rotation_matrix(rng.uniform(0, 2 * np.pi), rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5))
        shapes += hollow_ellipsoid("gelatin", (length / 2, d / 2, d / 2), 0.12, at, rot)
        shapes.append(ellipsoid(str(rng.choice(POWDERS)), (length / 2 - 0.4, d / 2 - 0.4, d / 2 - 0.4), at, rot, density_scale=0.8))
    shapes.append(ellipsoid("polyethylene", (spread + 10, spread * 0.85 + 10, 10), density_scale=0.03))
    return _drug("capsules", "drug_tablets", shapes, "capsules", n * 0.4, count=n, material="gelatin")


def blister(rng: np.random.Generator) -> SceneObject:
    """Blister strips: PVC cavities over aluminium foil (or all-aluminium cold-form), 1-4 sheets stacked."""
    nx, ny = int(rng.integers(2, 6)), int(rng.integers(2, 4))
    d, h, pitch = rng.uniform(7, 11), rng.uniform(3, 5), rng.uniform(12, 16)
    hx, hy = nx * pitch / 2 + 4, ny * pitch / 2 + 4
    cold_form = rng.random() < 0.3
    material = "mdma_tablet" if rng.random() < 0.5 else "pharma_tablet"
    sheet: list[Shape] = [box("aluminium" if cold_form else "pvc", (hx, hy, 0.03 if cold_form else 0.15)),
                          box("aluminium", (hx, hy, 0.012), at=(0, 0, -h / 2))]
    for i in range(nx):
        for j in range(ny):
            at = (-hx + 4 + pitch * (i + 0.5), -hy + 4 + pitch * (j + 0.5), 0)
            sheet += _pill("oval" if rng.random() < 0.4 else "round", material, at, np.eye(3), d, h)
    n_sheets = int(rng.integers(1, 7))
    side_by_side = rng.random() < 0.5  # a pack of strips stacked, or laid out flat in an envelope
    shapes = list(sheet)
    for k in range(1, n_sheets):
        offset = (0.0, 2 * hy * k + 3 * k, 0.0) if side_by_side else (rng.uniform(-5, 5), rng.uniform(-5, 5), 5.5 * k)
        shapes += [s.transformed(np.array(offset), np.eye(3)) for s in sheet]
    return _drug("blister", "drug_tablets", shapes, "blister", None, count=nx * ny * n_sheets, material=material, cold_form=cold_form)


# ---------------------------------------------------------------- hosts (train family)
def _host(name: str, shapes: list[Shape], drug: SceneObject) -> SceneObject:
    return SceneObject(name=f"concealment_{name}", shapes=shapes, role="concealment", extent=drug.extent, info={"host": name, "hides": drug.name})


def _host_shapes(host: str, ex: tuple[float, float, float], rng: np.random.Generator) -> list[Shape]:
    hx, hy, hz = (max(e, 3.0) for e in ex)
    m = rng.uniform(4, 15)
    if host == "food_tin":
        r, h = min(max(hx, hy) + 3, 70), max(hz + m, hx)
        return tube("steel", r, h, 0.22, closed=True) + [cylinder("food", r - 0.5, h - 1, density_scale=rng.uniform(0.1, 0.5))]
    if host == "food_packet":  # cereal, biscuits, coffee: cardboard round a food fill
        return hollow_box("cardboard", (hx + m, hy + m, hz + m), 0.6) + [box(str(rng.choice(["coffee", "flour", "sugar"])), (hx + m - 1, hy + m - 1, hz + m - 1), density_scale=rng.uniform(0.2, 0.5), texture=0.2)]
    if host == "candle":
        r, h = max(hx, hy) + m, hz + m + 10
        return [cylinder("wax", r, h), cylinder("wax", max(hx, hy), hz, sign=-1.0)]
    if host == "cosmetics":  # a cream jar
        r = max(hx, hy) + 4
        return tube("polypropylene", r, hz + 6, 2.0, closed=True) + [cylinder("cream", r - 2, hz + 4, density_scale=rng.uniform(0.2, 0.6))]
    if host == "book":
        return [box("paper", (hx + m, hy + m, hz + 3), texture=0.03), box("paper", (hx, hy, hz), sign=-1.0)]
    if host == "toy":
        return hollow_ellipsoid(str(rng.choice(["polyethylene", "abs", "pvc"])), (hx * 1.4 + m, hy * 1.4 + m, hz * 1.4 + m), 2.0)
    if host == "clothing":
        return [ellipsoid("textile", (hx * 2 + 40, hy * 2 + 30, hz + 15), texture=0.6)]
    # electronics: a speaker or router case with a board, a magnet and screws
    return hollow_box("abs", (hx + m, hy + m, hz + 4), 2.0) + [
        box("pcb", ((hx + m) * 0.5, (hy + m) * 0.4, 0.8), at=((hx + m) * 0.4, 0, hz + 2)),
        cylinder("copper", 10, 5, at=(-(hx + m) * 0.5, (hy + m) * 0.4, 0), density_scale=0.6),
        box("steel", (8, 8, 4), at=((hx + m) * 0.6, -(hy + m) * 0.6, 0)),
    ]


# ---------------------------------------------------------------- held-out family (never trained)
def foil_wrap(rng: np.random.Generator) -> SceneObject:
    material, mass = "fentanyl_cut", _log_uniform(rng, 10, 1000)
    hx, hy, hz = _axes_for(mass, material, rng.uniform(0.1, 0.2), aspect=0.6)
    shapes = [box(material, (hx * 0.8, hy * 0.8, hz), texture=0.1)] + hollow_box("aluminium", (hx * 0.8 + 0.02, hy * 0.8 + 0.02, hz + 0.02), 0.015)
    return _drug("foil_wrap", "drug_bulk", shapes, "foil_wrap", mass, material=material)


def latex_pellets(rng: np.random.Generator) -> list[SceneObject]:
    """Pellets of pressed powder in latex (8-12 g each), as swallowed or posted in clusters."""
    out = []
    n = int(rng.integers(2, 7))
    for k in range(n):
        mass = rng.uniform(8, 12)
        r = rng.uniform(7, 8.5)
        half = max(mass / 1.1 * 1000 / (np.pi * r * r) / 2, r)
        at = np.array([(k % 4) * 2.3 * r, (k // 4) * (2 * half + 4), rng.uniform(-4, 4)])
        shapes = [ellipsoid("ketamine_hcl", (r, half, r), at=at, density_scale=1.4)] + hollow_ellipsoid("latex", (r + 0.4, half + 0.4, r + 0.4), 0.4, at=at)
        out.append(_drug("latex_pellet", "drug_bulk", shapes, "pellet", mass, material="ketamine_hcl"))
    return out


def jar_crystal(rng: np.random.Generator) -> SceneObject:
    r, h = rng.uniform(25, 50), rng.uniform(30, 70)
    fill = rng.uniform(0.4, 0.9)
    shapes = tube("glass", r, h, 3.0, closed=True)
    shapes.append(cylinder("ketamine_hcl", r - 3, (h - 3) * fill, at=(0, 0, -(h - 3) * (1 - fill)), density_scale=0.7, texture=0.25))
    mass = np.pi * (r - 3) ** 2 * 2 * (h - 3) * fill * 0.56 / 1000
    return _drug("jar_crystal", "drug_bulk", shapes, "jar", mass, material="ketamine_hcl")


def card_sheet(rng: np.random.Generator) -> SceneObject:
    hx, hy, hz = rng.uniform(50, 110), rng.uniform(40, 80), rng.uniform(1.2, 4.0)
    shapes = [box("fentanyl_cut", (hx, hy, hz), texture=0.1)] + hollow_box("paper", (hx + 6, hy + 6, hz + 0.5), 0.4)
    mass = 8 * hx * hy * hz / 1000 * get_material("fentanyl_cut").density
    return _drug("card_sheet", "drug_bulk", shapes, "card", mass, material="fentanyl_cut")


def vitamin_bottle(rng: np.random.Generator) -> SceneObject:
    n = int(rng.integers(40, 250))
    r, h = rng.uniform(25, 40), rng.uniform(40, 80)
    d, t = rng.uniform(8, 12), rng.uniform(3.5, 6)
    shapes = tube("hdpe", r, h, 1.5, closed=True)
    for _ in range(n):
        at = (rng.uniform(-r + d, r - d) * 0.7, rng.uniform(-r + d, r - d) * 0.7, rng.uniform(-h + t, h - t))
        shapes.append(cylinder("pharma_tablet", d / 2, t / 2, at, rotation_matrix(rng.uniform(0, np.pi), rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5))))
    return _drug("vitamin_bottle", "drug_tablets", shapes, "pill_bottle", n * 0.4, count=n, material="pharma_tablet")


def foil_roll(rng: np.random.Generator) -> SceneObject:
    n = int(rng.integers(12, 40))
    d, t = rng.uniform(9, 13), rng.uniform(3, 5)
    shapes: list[Shape] = [cylinder("mdma_tablet", d / 2, t / 2, at=(k * t, 0, 0), rot=along_x()) for k in range(n)]
    shapes += tube("aluminium", d / 2 + 0.3, n * t / 2 + 1, 0.03, at=(n * t / 2 - t / 2, 0, 0), rot=along_x(), closed=True)
    return _drug("foil_roll", "drug_tablets", shapes, "foil_roll", n * 0.35, count=n, material="mdma_tablet")


def _heldout_host_shapes(host: str, ex: tuple[float, float, float], rng: np.random.Generator) -> list[Shape]:
    hx, hy, hz = (max(e, 3.0) for e in ex)
    if host == "shampoo":
        return tube("hdpe", max(hx, hy) + 6, hz + 30, 1.2, closed=True) + [cylinder("soap", max(hx, hy) + 4.5, hz + 28, density_scale=rng.uniform(0.3, 0.8))]
    if host == "chocolate_box":
        return hollow_box("cardboard", (hx + 12, hy + 12, hz + 5), 0.5) + [box("food", (hx + 11, hy + 11, 4), at=(0, 0, hz + 0.5), density_scale=0.8)]
    if host == "tea_tin":
        return tube("aluminium", min(max(hx, hy) + 5, 70), hz + 20, 0.3, closed=True) + [cylinder("coffee", min(max(hx, hy) + 4, 69), hz + 19, density_scale=0.6)]
    return hollow_box("polypropylene", (hx + 8, hy + 8, max(hz, 7.0)), 1.2)  # dvd_case


# ---------------------------------------------------------------- families
Builder = Callable[[np.random.Generator], "SceneObject | list[SceneObject]"]
_TRAIN_BUILDERS: dict[str, tuple[float, Builder]] = {
    "powder_pillow": (1.2, powder_pillow), "zip_bag": (1.2, zip_bag), "bindle": (0.6, bindle), "crystal": (0.8, crystal_bag),
    "herbal": (1.0, herbal), "brick": (0.8, taped_brick), "liquid": (0.4, liquid_bottle), "vape": (0.5, vape_cartridges),
    "loose_pills": (1.4, loose_pills), "capsules": (0.8, capsules), "blister": (1.0, blister),
}
_HELDOUT_BUILDERS: dict[str, tuple[float, Builder]] = {
    "foil_wrap": (1.0, foil_wrap), "pellet": (1.0, latex_pellets), "jar": (0.6, jar_crystal), "card": (0.6, card_sheet),
    "pill_bottle": (1.0, vitamin_bottle), "foil_roll": (0.8, foil_roll),
}
TRAIN_HOSTS = ("food_tin", "food_packet", "candle", "cosmetics", "book", "toy", "clothing", "electronics")
HELDOUT_HOSTS = ("shampoo", "chocolate_box", "tea_tin", "dvd_case")
_CONCEALABLE = {"powder_pillow", "zip_bag", "bindle", "crystal", "herbal", "loose_pills", "capsules", "blister", "foil_wrap", "pellet", "card", "foil_roll"}


def drug_item(rng: np.random.Generator, family: str = "train", *, conceal_probability: float = 0.4, classes: tuple[str, ...] = ("drug_bulk", "drug_tablets")) -> DrugItem:
    """One drug item of `family` ("train" or "heldout"), concealed in a host with `conceal_probability`."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    builders = _TRAIN_BUILDERS if family == "train" else _HELDOUT_BUILDERS
    while True:
        names = list(builders)
        weights = np.array([builders[n][0] for n in names])
        form = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        made = builders[form][1](rng)
        drugs = made if isinstance(made, list) else [made]
        if drugs[0].label in classes:
            break
    host = None
    objects: list[SceneObject] = list(drugs)
    if form in _CONCEALABLE and rng.random() < conceal_probability:
        hosts = TRAIN_HOSTS if family == "train" else HELDOUT_HOSTS
        host = str(rng.choice(hosts))
        shapes = [s for d in drugs for s in d.shapes]
        ex = _extent(shapes)
        # centre the group so the host, built round the origin, surrounds it
        b = np.array([[s.center[0], s.center[1]] for s in shapes])
        shift = np.array([-(b[:, 0].min() + b[:, 0].max()) / 2, -(b[:, 1].min() + b[:, 1].max()) / 2, 0.0])
        for d in drugs:
            d.shapes = [s.transformed(shift, np.eye(3)) for s in d.shapes]
            d.extent = _extent(d.shapes)
        ex = _extent([s for d in drugs for s in d.shapes])
        make = _host_shapes if family == "train" else _heldout_host_shapes
        objects.insert(0, _host(host, make(host, ex, rng), drugs[0]))
    mass = sum(d.info.get("mass_g") or 0.0 for d in drugs) or None
    for d in drugs:
        d.info.update(family=family, host=host)
    return DrugItem(objects=objects, form=drugs[0].info["form"], family=family, host=host, mass_g=mass)
