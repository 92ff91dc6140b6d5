"""What every format reader yields: one labelled image as the source wrote it, names not yet mapped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SourceBox:
    """One box in the source's own class name; `xyxy` in pixels, or in 0..1 when the sample is normalised."""

    name: str
    xyxy: tuple[float, float, float, float]


@dataclass
class SourceSample:
    image: Path
    boxes: list[SourceBox] = field(default_factory=list)
    # The source's own split folder or list ("train", "val", a COCO json's stem), None when it has none.
    subset: str | None = None
    # YOLO boxes are fractions of the image size, which only the decoded image knows.
    normalized: bool = False
