"""Generator recipe (`configs/synth/*.yaml`), validated; every field has a default."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xscreen.checkout import CONFIGS_DIR
from xscreen.errors import ConfigError

DEFAULT_CONFIG = CONFIGS_DIR / "synth" / "default.yaml"


class LabelRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    footprint_min_attenuation: float = Field(0.01, gt=0, description="a_H of the object alone above which a pixel is footprint")
    occluded_below_transmission: float = Field(0.01, gt=0, lt=1, description="footprint pixels behind matter passing less than this are hidden")
    min_visibility: float = Field(0.4, ge=0, le=1, description="drop the label when less of the footprint is visible")
    min_in_frame: float = Field(0.5, ge=0, le=1, description="drop the label when less of the footprint is inside the scan")
    min_mean_attenuation: float = Field(0.04, ge=0, description="drop the label when the object alone attenuates its footprint less than this on average (too faint to see)")
    min_box_px: int = Field(4, ge=1)
    min_display_delta: float = Field(3.0, ge=0, description="threat image projection: drop the label when the object changes the displayed pixels over its footprint by less than this many 0-255 levels on average (JPEG noise is about 2)")


class SynthConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image_size: int = Field(1024, ge=64, le=8192, description="output long side, pixels")
    render_scale: float = Field(1.0, gt=0.1, le=1.0, description="internal render resolution relative to output")
    val_fraction: float = Field(0.1, ge=0, lt=1)
    image_format: str = Field("jpg", pattern="^(jpg|png)$")
    profiles: dict[str, float] = Field(default_factory=lambda: {"dual-160kv": 1.0})
    gray_as_colour: bool = Field(True, description="gray-profile scans are written through convert.gray_to_colour, as the engine shows them to a colour model")
    containers: dict[str, float] = Field(default_factory=lambda: {"cardboard_box": 0.35, "padded_envelope": 0.12, "letter": 0.08, "plastic_mailer": 0.1, "suitcase": 0.2, "soft_bag": 0.15})
    no_threat_fraction: float = Field(0.35, ge=0.3, le=1.0)
    max_threats: int = Field(3, ge=1, le=10)
    threat_weights: dict[str, float] = Field(default_factory=lambda: {"firearm": 1.0, "firearm_part": 1.3, "magazine": 0.7, "ammunition": 0.7, "knife": 1.0, "drug_bulk": 1.4, "drug_tablets": 1.0})
    builder_weights: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {"knife": {"knife": 0.5, "throwing_star": 0.25, "razor_blade": 0.25}},
        description="per class, how often each of its builders (threats.THREAT_BUILDERS) is drawn; a class not listed draws its builders uniformly")
    lookalike_weights: dict[str, float] = Field(default_factory=lambda: {"scissors": 1.0, "tool": 1.0})
    lookalike_probability: float = Field(0.3, ge=0, le=1)
    conceal_probability: float = Field(0.4, ge=0, le=1, description="chance a drug is hidden in a host object")
    clutter_per_100cm2: float = Field(2.2, ge=0)
    max_clutter: int = Field(40, ge=0)
    canvas_margin: tuple[float, float] = (0.02, 0.12)
    cutoff_probability: float = Field(0.08, ge=0, le=1, description="chance the container runs past an image edge")
    labels: LabelRule = LabelRule()

    @model_validator(mode="after")
    def _weights_positive(self) -> "SynthConfig":
        named = [(field, getattr(self, field)) for field in ("profiles", "containers", "threat_weights")]
        for field, weights in named + [(f"builder_weights.{cls}", w) for cls, w in self.builder_weights.items()]:
            if not weights or any(v < 0 for v in weights.values()) or sum(weights.values()) <= 0:
                raise ValueError(f"{field} needs non-negative weights with a positive sum")
        return self


def load_config(path: Path | str | None = None) -> SynthConfig:
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.exists():
        raise ConfigError(f"synth config not found: {path}")
    try:
        return SynthConfig.model_validate(yaml.safe_load(path.read_text()) or {})
    except (ValidationError, yaml.YAMLError) as exc:
        raise ConfigError(f"synth config {path}: {exc}") from exc
