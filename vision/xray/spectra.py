"""Polychromatic tube spectra (spekpy) and the energy response of each detector channel.

A dual-energy line scanner has one tube and a sandwich detector: a thin front scintillator records the
low-energy channel, a copper filter hardens what passes, and a thick rear scintillator records the
high-energy channel. A single-energy scanner has one thick scintillator. Detectors integrate energy, so
each channel's weight per energy bin is S(E) * E * absorbed fraction(E); weights are normalised to sum 1,
so transmission through nothing is 1.

spekpy takes about a second per spectrum, so spectra are cached per beam (in memory, per process).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from xscreen.vision.xray.materials import mass_attenuation

MIN_ENERGY_KEV = 10.0  # below this nothing survives the tube filtration and conveyor belt


@dataclass(frozen=True)
class BeamSpec:
    """Tube and detector of one scanner: everything the channel responses depend on."""

    kvp: float = 160.0
    anode_angle_deg: float = 12.0
    filtration_mm: tuple[tuple[str, float], ...] = (("Al", 2.0), ("Cu", 0.2))  # element, mm
    dual_energy: bool = True
    low_scintillator_mm: float = 0.3  # CsI front layer
    mid_filter_mm: float = 0.5  # Cu between the layers
    high_scintillator_mm: float = 2.0  # CsI rear layer (single-energy: the only layer)
    belt: tuple[tuple[str, float], ...] = field(default=(("polyethylene", 0.3),))  # material, g/cm^2

    @property
    def channels(self) -> tuple[str, ...]:
        return ("low", "high") if self.dual_energy else ("high",)


@dataclass(frozen=True)
class ChannelResponse:
    energies_kev: np.ndarray  # (E,)
    weights: dict[str, np.ndarray]  # channel -> (E,), sums to 1


def _absorbed(formula: str, density: float, thickness_mm: float, energies_kev: np.ndarray) -> np.ndarray:
    import xraydb

    mu = np.asarray(xraydb.material_mu(formula, energies_kev * 1000.0, density=density))  # 1/cm
    return np.exp(-mu * thickness_mm / 10.0)


@lru_cache(maxsize=16)
def tube_spectrum(kvp: float, anode_angle_deg: float, filtration_mm: tuple[tuple[str, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Photon fluence per 1 keV bin for a tungsten tube (spekpy), after inherent and added filtration."""
    import spekpy

    spek = spekpy.Spek(kvp=kvp, th=anode_angle_deg, dk=1.0)
    for element, mm in filtration_mm:
        if mm > 0:
            spek.filter(element, mm)
    energies, fluence = spek.get_spectrum()
    keep = energies >= MIN_ENERGY_KEV
    return np.asarray(energies[keep], dtype=np.float64), np.asarray(fluence[keep], dtype=np.float64)


@lru_cache(maxsize=16)
def channel_response(beam: BeamSpec) -> ChannelResponse:
    energies, fluence = tube_spectrum(beam.kvp, beam.anode_angle_deg, beam.filtration_mm)
    through_belt = np.ones_like(energies)
    for material, areal in beam.belt:
        through_belt *= np.exp(-mass_attenuation(material, energies) * areal)
    incident = fluence * through_belt * energies  # energy-integrating detector
    weights: dict[str, np.ndarray] = {}
    if beam.dual_energy:
        front_t = _absorbed("CsI", 4.51, beam.low_scintillator_mm, energies)
        weights["low"] = incident * (1.0 - front_t)
        mid_t = _absorbed("Cu", 8.96, beam.mid_filter_mm, energies)
        weights["high"] = incident * front_t * mid_t * (1.0 - _absorbed("CsI", 4.51, beam.high_scintillator_mm, energies))
    else:
        weights["high"] = incident * (1.0 - _absorbed("CsI", 4.51, beam.high_scintillator_mm, energies))
    for name, w in weights.items():
        weights[name] = w / w.sum()
    return ChannelResponse(energies, weights)
