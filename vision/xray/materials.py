"""Materials: density and elemental composition, with mass attenuation from xraydb.

Each material is a mixture of chemical formulas by mass fraction; its mass attenuation coefficient
mu/rho(E) [cm^2/g] is the mass-weighted sum of xraydb's (Elam) coefficients for each formula. Densities are
bulk densities as packed in mail (a powder in a bag is less dense than the crystal).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Material:
    name: str
    density: float  # g/cm^3, bulk as shipped
    components: tuple[tuple[str, float], ...]  # (formula, mass fraction)
    kind: str = "organic"  # organic | inorganic | metal: informative only, the physics decides the colour


def _m(name: str, density: float, kind: str, *components: tuple[str, float]) -> Material:
    total = sum(w for _, w in components)
    return Material(name, density, tuple((f, w / total) for f, w in components), kind)


# Cellulose C6H10O5; proteins and fats approximated by their formulas. Drug formulas are the salts shipped.
MATERIALS: dict[str, Material] = {
    m.name: m
    for m in (
        _m("air", 0.0012, "organic", ("N2", 0.755), ("O2", 0.232), ("Ar", 0.013)),
        _m("paper", 0.8, "organic", ("C6H10O5", 0.93), ("CaCO3", 0.07)),
        _m("cardboard", 0.55, "organic", ("C6H10O5", 0.95), ("CaCO3", 0.05)),
        _m("textile", 0.35, "organic", ("C6H10O5", 0.6), ("C10H8O4", 0.4)),  # cotton + polyester, folded
        _m("polyethylene", 0.94, "organic", ("C2H4", 1.0)),
        _m("polypropylene", 0.90, "organic", ("C3H6", 1.0)),
        _m("abs", 1.05, "organic", ("C15H17N", 1.0)),
        _m("pvc", 1.38, "organic", ("C2H3Cl", 1.0)),
        _m("rubber", 1.2, "organic", ("C5H8", 0.85), ("ZnO", 0.03), ("SiO2", 0.12)),
        _m("foam", 0.05, "organic", ("C8H8", 1.0)),
        _m("wood", 0.65, "organic", ("C6H10O5", 1.0)),
        _m("leather", 0.9, "organic", ("C5H9NO2", 0.9), ("Cr2O3", 0.02), ("H2O", 0.08)),
        _m("water", 1.0, "organic", ("H2O", 1.0)),
        _m("sugar", 0.85, "organic", ("C12H22O11", 1.0)),
        _m("flour", 0.6, "organic", ("C6H10O5", 0.86), ("H2O", 0.14)),
        _m("food", 1.0, "organic", ("H2O", 0.7), ("C6H10O5", 0.2), ("C16H32O2", 0.08), ("NaCl", 0.02)),
        _m("coffee", 0.4, "organic", ("C6H10O5", 0.9), ("C8H10N4O2", 0.02), ("H2O", 0.08)),
        _m("soap", 1.05, "organic", ("C18H35NaO2", 0.8), ("H2O", 0.2)),
        _m("cream", 0.95, "organic", ("H2O", 0.7), ("C16H32O2", 0.25), ("TiO2", 0.05)),
        _m("pla", 1.24, "organic", ("C3H4O2", 1.0)),  # 3D-printed frames
        _m("nylon_gf", 1.4, "organic", ("C6H11NO", 0.7), ("SiO2", 0.3)),  # glass-filled polymer frames
        _m("glass", 2.5, "inorganic", ("SiO2", 0.73), ("Na2O", 0.14), ("CaO", 0.13)),
        _m("ceramic", 2.4, "inorganic", ("Al2O3", 0.5), ("SiO2", 0.5)),
        _m("pcb", 1.9, "inorganic", ("SiO2", 0.5), ("C15H16O2", 0.3), ("Cu", 0.2)),
        _m("li_ion_cell", 2.6, "metal", ("LiCoO2", 0.35), ("C", 0.2), ("Cu", 0.15), ("Al", 0.1), ("Fe", 0.12), ("C3H4O3", 0.08)),
        _m("aluminium", 2.70, "metal", ("Al", 1.0)),
        _m("steel", 7.85, "metal", ("Fe", 0.98), ("C", 0.01), ("Mn", 0.01)),
        _m("stainless", 7.9, "metal", ("Fe", 0.7), ("Cr", 0.19), ("Ni", 0.11)),
        _m("brass", 8.5, "metal", ("Cu", 0.65), ("Zn", 0.35)),
        _m("copper", 8.96, "metal", ("Cu", 1.0)),
        _m("zinc_alloy", 6.6, "metal", ("Zn", 0.96), ("Al", 0.04)),
        _m("lead", 11.34, "metal", ("Pb", 1.0)),
        _m("tungsten", 19.3, "metal", ("W", 1.0)),
        _m("gold", 19.3, "metal", ("Au", 0.75), ("Ag", 0.15), ("Cu", 0.10)),
        _m("silver", 10.4, "metal", ("Ag", 0.925), ("Cu", 0.075)),
        _m("gunpowder", 0.95, "organic", ("C6H7N3O11", 0.9), ("C3H5N3O9", 0.1)),
        # Drugs, bulk density as bagged powder / pressed brick; cutting agents mixed in by mass.
        _m("cocaine_hcl", 0.75, "organic", ("C17H22ClNO4", 0.7), ("C6H14O6", 0.2), ("C12H22O11", 0.1)),
        _m("cocaine_brick", 1.25, "organic", ("C17H22ClNO4", 0.8), ("C6H14O6", 0.2)),
        _m("heroin", 0.7, "organic", ("C21H23NO5", 0.5), ("C8H10N4O2", 0.3), ("C13H17NO3", 0.2)),  # + caffeine, paracetamol
        _m("methamphetamine_hcl", 0.9, "organic", ("C10H16ClN", 0.9), ("C6H14O6", 0.1)),  # crystals
        _m("mdma_tablet", 1.25, "organic", ("C11H15NO2", 0.35), ("C12H22O11", 0.45), ("CaHPO4", 0.15), ("C18H35MgO2", 0.05)),
        _m("pharma_tablet", 1.3, "organic", ("C12H22O11", 0.6), ("CaHPO4", 0.3), ("C6H10O5", 0.1)),
        _m("cannabis", 0.45, "organic", ("C6H10O5", 0.75), ("C21H30O2", 0.15), ("H2O", 0.1)),
        _m("cannabis_pressed", 0.85, "organic", ("C6H10O5", 0.75), ("C21H30O2", 0.15), ("H2O", 0.1)),
        _m("drug_solution", 1.05, "organic", ("H2O", 0.8), ("C17H22ClNO4", 0.2)),
        _m("gelatin", 1.3, "organic", ("C102H151N31O39", 1.0)),
        # Materials of the drug programme (datasets/synth/drugs.py); the held-out family uses the last group only.
        _m("wax", 0.9, "organic", ("C25H52", 1.0)),  # paraffin candles
        _m("vape_oil", 0.95, "organic", ("C21H30O2", 0.7), ("C3H8O3", 0.3)),  # THC distillate in glycerol
        _m("tape", 1.1, "organic", ("C3H6", 0.6), ("C5H8", 0.4)),  # polypropylene packing tape with its adhesive
        _m("ketamine_hcl", 0.8, "organic", ("C13H17Cl2NO", 0.9), ("C12H22O11", 0.1)),
        _m("fentanyl_cut", 0.65, "organic", ("C12H22O11", 0.95), ("C22H28N2O", 0.05)),  # lactose-cut powder
        _m("latex", 0.92, "organic", ("C5H8", 1.0)),
        _m("hdpe", 0.96, "organic", ("C2H4", 1.0)),
    )
}


def get_material(name: str) -> Material:
    try:
        return MATERIALS[name]
    except KeyError:
        raise KeyError(f"unknown material {name!r}; known: {', '.join(sorted(MATERIALS))}") from None


@lru_cache(maxsize=256)
def _mass_attenuation_cached(name: str, energies_kev: tuple[float, ...]) -> np.ndarray:
    import xraydb  # heavy-ish import, only when physics tables are built

    material = get_material(name)
    e_ev = np.asarray(energies_kev, dtype=np.float64) * 1000.0
    total = np.zeros_like(e_ev)
    for formula, fraction in material.components:
        # material_mu returns the linear coefficient for the given density: density 1 gives mu/rho.
        total += fraction * np.asarray(xraydb.material_mu(formula, e_ev, density=1.0))
    total.setflags(write=False)
    return total


def mass_attenuation(name: str, energies_kev: np.ndarray) -> np.ndarray:
    """mu/rho [cm^2/g] of material `name` at each energy [keV] (cached per energy grid)."""
    return _mass_attenuation_cached(name, tuple(float(e) for e in np.asarray(energies_kev).ravel()))
