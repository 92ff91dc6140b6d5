"""Scanner profiles: one YAML per scanner kind in `configs/scanners/` (package data), read into a `ScannerProfile`.

A profile is everything that makes one scanner's image differ from another's: tube and detector (the
physics of the channels), pixel pitch, blur, noise, gain errors, edge enhancement, the display palette
(the organic / mixed / metal colour curves), gamma and JPEG quality. The synthetic renderer draws a profile
per scan, so one scene can be seen as several scanners; training's `apply_profile`
(`xscreen.training.augment`) pushes a real scan towards a profile.

Public API:
    load_profile(name_or_path) -> ScannerProfile
    list_profiles() -> list[str]
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from xscreen.errors import ConfigError, validation_summary
from xscreen.resources import SCANNERS_DIR
from xscreen.vision.xray.spectra import BeamSpec

DEFAULT_PROFILE = "dual-160kv"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BeamConfig(_Model):
    kvp: float = Field(160.0, ge=40, le=450)
    anode_angle_deg: float = 12.0
    filtration_mm: tuple[tuple[str, float], ...] = (("Al", 2.0), ("Cu", 0.2))  # YAML: {Al: 2.0, Cu: 0.2}
    dual_energy: bool = True
    low_scintillator_mm: float = Field(0.3, gt=0)
    mid_filter_mm: float = Field(0.5, ge=0)
    high_scintillator_mm: float = Field(2.0, gt=0)

    @field_validator("filtration_mm", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        return tuple(sorted(value.items())) if isinstance(value, dict) else value

    def spec(self) -> BeamSpec:
        return BeamSpec(
            kvp=self.kvp,
            anode_angle_deg=self.anode_angle_deg,
            filtration_mm=tuple(self.filtration_mm),
            dual_energy=self.dual_energy,
            low_scintillator_mm=self.low_scintillator_mm,
            mid_filter_mm=self.mid_filter_mm,
            high_scintillator_mm=self.high_scintillator_mm,
        )


class Palette(_Model):
    """Display colours. Hue comes from the material class z (0 organic, 1 mixed/light metal, 2 metal),
    found from the low/high attenuation ratio against reference curves of water, aluminium and iron;
    saturation and darkness grow with the high-energy attenuation a_H = -ln T_H."""

    organic: tuple[int, int, int] = (236, 140, 52)
    mixed: tuple[int, int, int] = (92, 176, 70)
    metal: tuple[int, int, int] = (40, 100, 196)
    saturation_scale: float = Field(0.6, gt=0, description="a_H at which 63 % of the hue is reached")
    dark_start: float = Field(1.6, ge=0, description="a_H where darkening begins")
    dark_rate: float = Field(0.45, gt=0, description="darkening per unit a_H beyond dark_start")
    gamma: float = Field(1.0, gt=0)
    organic_thin: tuple[int, int, int] | None = Field(None, description="organic hue at low attenuation (SIXray-like displays tint thin organics yellow-green); None: same as organic")
    organic_full_at: float = Field(1.0, gt=0, description="a_H where organic reaches its full colour")
    z_gamma: float = Field(1.0, gt=0, description="z ** z_gamma on the organic->mixed half: < 1 turns green earlier")
    air_threshold: float = Field(0.03, ge=0, description="a_H shown as pure white (air and belt noise)")


class Detector(_Model):
    pixel_pitch_mm: float = Field(0.8, gt=0)
    blur_sigma_mm: float = Field(0.5, ge=0, description="focal spot + scintillator spread, Gaussian sigma")
    photons: float = Field(6000.0, gt=0, description="detected quanta per pixel in air, high channel")
    low_photon_fraction: float = Field(0.5, gt=0, description="low channel quanta relative to high")
    gain_sigma: float = Field(0.004, ge=0, description="residual per-detector gain error after flat field")
    line_sigma: float = Field(0.002, ge=0, description="per-line tube output flicker")
    dead_pixel_rate: float = Field(0.0005, ge=0, le=0.05)
    offset: float = Field(0.0, ge=0, le=0.05, description="residual dark offset, fraction of full scale")


class Display(_Model):
    edge_enhance: float = Field(0.0, ge=0, le=3, description="unsharp-mask amount applied to the display")
    gray_gamma: float = Field(0.55, gt=0, description="gray = 255 * T_H ** gray_gamma")
    jpeg_quality: int = Field(92, ge=30, le=100)


class Augment(_Model):
    """Ranges sampled by training's apply_profile (real scans) and the renderer (synthetic)."""

    pitch_scale: tuple[float, float] = (0.85, 1.2)
    # Tube voltage differs between makes (about 100-200 kV): s of convert.recolour, 0.12 = 160 -> 100 kV.
    beam_softening: tuple[float, float] = (-0.08, 0.15)
    hue_shift_deg: float = Field(6.0, ge=0)
    saturation_scale: tuple[float, float] = (0.85, 1.15)
    extra_blur_sigma_px: tuple[float, float] = (0.0, 0.6)
    noise_sigma: tuple[float, float] = (0.0, 3.0)


class ScannerProfile(_Model):
    name: str
    description: str = ""
    kind: Literal["colour", "gray"] = "colour"
    beam: BeamConfig = BeamConfig()
    detector: Detector = Detector()
    palette: Palette = Palette()
    display: Display = Display()
    augment: Augment = Augment()

    @property
    def beam_spec(self) -> BeamSpec:
        return self.beam.spec()


def list_profiles() -> list[str]:
    return sorted(p.stem for p in SCANNERS_DIR.glob("*.yaml"))


def load_profile(name_or_path: str | Path | None = None) -> ScannerProfile:
    """A profile by name (`configs/scanners/NAME.yaml`) or by path; None gives the default profile."""
    key = str(name_or_path) if name_or_path is not None else DEFAULT_PROFILE
    path = Path(key)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = SCANNERS_DIR / f"{key}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown scanner profile {key!r}; known: {', '.join(list_profiles())}")
    return _load(str(path.resolve()), path.stat().st_mtime)


@lru_cache(maxsize=32)
def _load(path: str, _mtime: float) -> ScannerProfile:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
        data.setdefault("name", Path(path).stem)
        return ScannerProfile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"scanner profile {path}: {validation_summary(exc.errors())}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"scanner profile {path} is not valid YAML: {exc}") from exc
