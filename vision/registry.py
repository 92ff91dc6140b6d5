"""Read the model registry (after Triton's model repository).

Layout: `MODELS_DIR/NAME/VERSION/model.onnx` + `card.json` (+ variants such as `model-fp16.onnx`,
`model-int8.onnx`), numeric versions that are never edited once written. `MODELS_DIR/DEFAULT` holds the
promoted `NAME:VERSION` that `default` resolves to. Nothing loads without a card, and nothing loads whose
files do not match the sha256 sums in their card. Writing and promoting live in `xscreen.training`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from xscreen.errors import ModelIntegrityError, ModelNotFound
from xscreen.settings import Variant
from xscreen.vision.scan import ScanKind

DEFAULT_POINTER = "DEFAULT"
CARD_FILE = "card.json"
VARIANT_FILES: dict[Variant, str] = {"fp32": "model.onnx", "fp16": "model-fp16.onnx", "int8": "model-int8.onnx"}
# How a colour model is shown a single-energy (gray) scan: `pseudo_colour` = `convert.gray_to_colour` (a palette
# guessed from the attenuation alone), `gray` = the gray levels as three equal channels. Chosen by measurement
# on gray renderings the project's physics did not make (docs/model.md, "Which gray path stations run").
GrayInput = Literal["pseudo_colour", "gray"]
# Whether a gray scan's display curve and polarity are normalised first (docs/model.md, "Gray display matching").
GrayDisplay = Literal["as_is", "matched"]


class InputSpec(BaseModel):
    """What the model expects and how pixels must be prepared (identical to training)."""

    name: str = "images"
    imgsz: int = Field(gt=0, description="Square letterbox side in pixels.")
    dtype: str = "float32"
    layout: str = "NCHW"
    channel_order: Literal["RGB", "BGR"] = "RGB"
    scale: float = 1 / 255.0
    pad_value: int = 114
    interpolation: str = "linear"
    image_kind: Literal["colour", "gray"] = "colour"
    gray_input: GrayInput = Field(
        default="pseudo_colour",
        description="How a colour model is shown a gray (single-energy) scan: pseudo_colour (gray_to_colour) or gray (three equal channels).",
    )
    gray_display: GrayDisplay = Field(
        default="as_is",
        description="A gray scan's display levels as sent (as_is), or first brought to the training scans' display (matched: "
        "polarity fixed, levels quantile-matched; vision/xray/gray_display.py).",
    )
    pixel_pitch_mm: float | None = Field(
        default=None,
        description="mm per MODEL-INPUT pixel for a typical letterboxed training scan (native pitch x long side / imgsz), if known; "
        "the engine resamples a station's scan to it (docs/engine.md).",
    )


class OutputSpec(BaseModel):
    name: str = "output0"
    layout: Literal["yolo_raw", "end2end"] = Field(
        description="yolo_raw: (B, 4+nc, N) boxes before NMS (YOLOv8/YOLO11); end2end: (B, N, 6) xyxy,score,class (YOLO26)."
    )


class Thresholds(BaseModel):
    conf: float = Field(default=0.25, ge=0, le=1, description="Operating score threshold.")
    iou: float = Field(default=0.45, ge=0, le=1, description="NMS IoU threshold (yolo_raw only).")
    per_class: dict[str, float] = Field(default_factory=dict)
    # A gray (single-energy) station must not run at thresholds chosen on colour scans: scores of the same
    # object differ by rendering (issue 18). Each kind's values are chosen on validation scans of that kind.
    per_kind: dict[ScanKind, dict[str, float]] = Field(
        default_factory=dict, description="Per-class thresholds for scans of one kind (colour, gray, dual_energy); override per_class."
    )

    def for_class(self, name: str, kind: ScanKind | None = None) -> float:
        """The operating threshold of class `name` on a scan of `kind` (None: a plain RGB image)."""
        if kind is not None and name in self.per_kind.get(kind, {}):
            return self.per_kind[kind][name]
        return self.per_class.get(name, self.conf)

    def floor(self) -> float:
        """The lowest threshold any class has on any kind: what decoding must keep."""
        return min([self.conf, *self.per_class.values(), *(v for kind in self.per_kind.values() for v in kind.values())])


class ConfusableSpec(BaseModel):
    """A class whose boxes must beat look-alike classes to stand (issue 18.4: blades and tools read as firearms
    on gray scans); `vision/postprocess.py` applies it while decoding. Both rules are off at their defaults."""

    target: str
    rivals: list[str] = Field(min_length=1)
    margin: float = Field(default=0.0, ge=0, le=1, description="Per anchor: the target's score must beat the best rival's by this, else the anchor is the rival.")
    discount: bool = Field(default=False, description="Per anchor: the target's score times (1 - the best rival's score).")
    suppress_iou: float | None = Field(default=None, gt=0, le=1, description="Drop a target box overlapping a rival box at IoU >= this ...")
    suppress_ratio: float = Field(default=1.0, gt=0, le=1, description="... that scores more than this times the target's score.")


class PostprocessSpec(BaseModel):
    """Decoding rules beyond ultralytics' NMS, versioned with the weights they were measured on."""

    confusable: list[ConfusableSpec] = Field(default_factory=list)


def model_ref(name: str, version: int) -> str:
    """`NAME:VERSION`, the one spelling of a model's reference (`parse_ref` reads it back)."""
    return f"{name}:{version}"


class ModelCard(BaseModel):
    name: str
    version: int
    created: str
    architecture: str
    classes: list[str]
    input: InputSpec
    output: OutputSpec
    max_batch_size: int = 32
    thresholds: Thresholds = Field(default_factory=Thresholds)
    postprocess: PostprocessSpec = Field(default_factory=PostprocessSpec)
    files: dict[str, str] = Field(description="file name -> sha256")
    training: dict[str, Any] = Field(default_factory=dict, description="Training run and data card.")
    metrics: dict[str, Any] = Field(default_factory=dict)
    software: dict[str, str] = Field(default_factory=dict)

    @property
    def ref(self) -> str:
        return model_ref(self.name, self.version)


@dataclass(frozen=True)
class RegistryModel:
    name: str
    version: int
    path: Path
    card: ModelCard

    @property
    def ref(self) -> str:
        return model_ref(self.name, self.version)

    def file(self, variant: Variant = "fp32") -> Path:
        filename = VARIANT_FILES[variant]
        if filename not in self.card.files:
            raise ModelNotFound(f"{self.ref} has no {variant} variant ({filename}); variants: {', '.join(self.variants())}")
        return self.path / filename

    def variants(self) -> list[str]:
        return [v for v, f in VARIANT_FILES.items() if f in self.card.files]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_card(version_dir: Path) -> ModelCard:
    card_path = version_dir / CARD_FILE
    if not card_path.exists():
        raise ModelNotFound(f"{version_dir} has no {CARD_FILE}; a model without a card is not loaded")
    return ModelCard.model_validate(json.loads(card_path.read_text()))


def verify_files(version_dir: Path, card: ModelCard) -> None:
    """Refuse a model whose files are missing or differ from their card's sha256."""
    for filename, expected in card.files.items():
        path = version_dir / filename
        if not path.exists():
            raise ModelIntegrityError(f"{path} is listed in the card but missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelIntegrityError(f"{path} sha256 {actual[:12]}… does not match its card ({expected[:12]}…)")


def list_models(models_dir: Path) -> list[tuple[str, int]]:
    """(name, version) of every version folder that has a card, sorted."""
    found: list[tuple[str, int]] = []
    if not models_dir.is_dir():
        return found
    for model_dir in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        for version_dir in model_dir.iterdir():
            if version_dir.is_dir() and version_dir.name.isdigit() and (version_dir / CARD_FILE).exists():
                found.append((model_dir.name, int(version_dir.name)))
    return sorted(found)


def default_ref(models_dir: Path) -> str:
    pointer = models_dir / DEFAULT_POINTER
    if not pointer.exists():
        raise ModelNotFound(f"no default model promoted in {models_dir} (run `xscreen models promote NAME:VERSION`)")
    return pointer.read_text().strip()


def parse_ref(ref: str, models_dir: Path) -> tuple[str, int | None]:
    """`default`, `NAME` (highest version) or `NAME:VERSION`."""
    if ref == "default":
        ref = default_ref(models_dir)
    name, _, version = ref.partition(":")
    if version and not version.isdigit():
        raise ModelNotFound(f"model version must be a number, got {ref!r}")
    return name, int(version) if version else None


def resolve_model(ref: str, *, models_dir: Path, verify: bool = True) -> RegistryModel:
    """Find a registry model by reference, read its card and (by default) verify its checksums."""
    name, version = parse_ref(ref, models_dir)
    versions = [v for n, v in list_models(models_dir) if n == name]
    if not versions:
        raise ModelNotFound(f"no model named {name!r} in {models_dir}")
    if version is None:
        version = max(versions)
    elif version not in versions:
        raise ModelNotFound(f"model {name!r} has no version {version}; versions: {versions}")
    version_dir = models_dir / name / str(version)
    card = read_card(version_dir)
    if verify:
        verify_files(version_dir, card)
    return RegistryModel(name=name, version=version, path=version_dir, card=card)
