"""The YOLO (ultralytics) dataset format: the one module that reads and writes it.

    images/<split>/NAME.jpg       display images
    labels/<split>/NAME.txt       one line per box, `class cx cy w h`, fractions of the image size
    data.yaml                     path (optional), train / val / test entries, names

Rules, each as ultralytics applies them (so statistics and evaluation see the files training reads):
- a label file sits where the image does with the last `images` folder replaced by `labels` and the
  image's suffix (only its last one: `scan.v2.jpg` -> `scan.v2.txt`) replaced by `.txt`; no label file
  means no boxes (a background image);
- `names` is a list, or a mapping of class id -> name; either way it is read in class-id order;
- a split entry is a folder (every image under it) or a list file (one image per line); a list-file line
  starting with `./` is relative to the list's folder, any other line is used as written;
- `path:` (relative to the yaml's folder) is the root split entries are relative to; default that folder.

Why this lives in `vision/` and not `datasets/`: `serving` (reviews export) writes this format too, and
serving may import `vision` but never `datasets` or `training`. The module is plain file I/O (no pixels,
no models), so every layer can use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from xscreen.errors import DatasetError

# Images a dataset folder may hold (display formats; raw scans are rendered before they become training data).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
SPLITS = ("train", "val", "test")

Box = tuple[int, float, float, float, float]  # class id, x1, y1, x2, y2 in pixels


class Label(NamedTuple):
    """One label line: class id and the box centre and size as fractions of the image."""

    class_id: int
    cx: float
    cy: float
    w: float
    h: float

    def to_box(self, width: float, height: float) -> Box:
        """The box in pixels of an image `width` x `height`."""
        cx, cy, w, h = self.cx * width, self.cy * height, self.w * width, self.h * height
        return (self.class_id, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)

    @classmethod
    def from_box(cls, box: Box, width: float, height: float) -> "Label":
        """A pixel box as a label line, clipped to the image (YOLO fractions lie in [0, 1])."""
        c, x1, y1, x2, y2 = box
        x1, x2 = min(max(x1, 0.0), width), min(max(x2, 0.0), width)
        y1, y2 = min(max(y1, 0.0), height), min(max(y2, 0.0), height)
        return cls(int(c), (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height)

    def line(self) -> str:
        return f"{self.class_id} {self.cx:.6f} {self.cy:.6f} {self.w:.6f} {self.h:.6f}"


def parse_line(line: str) -> Label | None:
    """A label line as a `Label`; None for a blank line; ValueError when it is not `class cx cy w h`.
    Fields after the fifth (a confidence, as ultralytics' `save_conf` writes) are ignored."""
    fields = line.split()
    if not fields:
        return None
    if len(fields) < 5:
        raise ValueError(f"expected `class cx cy w h`, got {line.strip()!r}")
    cx, cy, w, h = (float(v) for v in fields[1:5])
    return Label(int(float(fields[0])), cx, cy, w, h)


def read_labels(path: Path, *, strict: bool = True) -> list[Label]:
    """The labels in `path`; [] when there is no such file (a background image). A malformed line raises
    DatasetError naming file and line, or, with strict=False (foreign sets being imported), is logged and dropped."""
    if not path.is_file():
        return []
    labels: list[Label] = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        try:
            label = parse_line(line)
        except ValueError as exc:
            if strict:
                raise DatasetError(f"{path}:{lineno}: {exc}") from exc
            import logging

            logging.getLogger(__name__).warning("%s:%d: not `class cx cy w h`; line dropped", path, lineno)
            continue
        if label is not None:
            labels.append(label)
    return labels


def format_labels(labels: Iterable[Label]) -> str:
    """The text of a label file: one line per label, each ending in a newline; empty for no labels."""
    return "".join(label.line() + "\n" for label in labels)


def write_labels(path: Path, labels: Iterable[Label]) -> Path:
    """Write a label file (an empty one for a background image), creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_labels(labels))
    return path


def boxes_to_labels(boxes: Iterable[Box], width: float, height: float) -> list[Label]:
    return [Label.from_box(b, width, height) for b in boxes]


def label_path(image: Path) -> Path:
    """ultralytics' `img2label_paths`: the last `images` folder becomes `labels`, the last suffix `.txt`."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def image_path(images_dir: Path, stem: str, suffix: str) -> Path:
    """`images_dir/stem+suffix`: appended, never `with_suffix`, which would cut a dotted stem (`scan.v2`)."""
    return images_dir / f"{stem}{suffix}"


def find_images(root: Path) -> Iterator[Path]:
    """Every image file under `root`, in sorted path order."""
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            yield path


def data_root(data_yaml: Path, spec: Mapping[str, Any]) -> Path:
    """`path:` when given (relative to the yaml's folder), else the yaml's folder."""
    path = spec.get("path")
    if not path:
        return data_yaml.parent
    return Path(path) if Path(path).is_absolute() else data_yaml.parent / path


def class_names(raw: Any, *, where: str = "data.yaml") -> list[str]:
    """`names` (a list, or a mapping of class id -> name) in class-id order; ids must be 0..n-1."""
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        try:
            by_id = {int(k): str(v) for k, v in raw.items()}
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{where}: names keys must be class ids (integers), got {sorted(map(str, raw))}") from exc
        if sorted(by_id) != list(range(len(by_id))):
            raise DatasetError(f"{where}: names ids must be 0..{len(by_id) - 1}, got {sorted(by_id)}")
        return [by_id[i] for i in range(len(by_id))]
    if isinstance(raw, list):
        return [str(n) for n in raw]
    raise DatasetError(f"{where}: names must be a list or a mapping of id -> name, got {type(raw).__name__}")


@dataclass(frozen=True)
class DataSpec:
    """A data.yaml as read: class names in id order, the root its entries are relative to, and each
    split's entries (folders or list files, as written). `raw` is the whole yaml (name, nc, ...)."""

    path: Path
    names: list[str]
    root: Path
    splits: dict[str, list[str]]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def images(self, split: str) -> list[Path]:
        """The images of one split, in the order ultralytics lists them (folders sorted, list files as listed)."""
        if split not in self.splits:
            raise DatasetError(f"{self.path} has no {split!r} split")
        out: list[Path] = []
        for entry in self.splits[split]:
            p = Path(entry) if Path(entry).is_absolute() else self.root / entry
            if p.is_dir():
                out.extend(find_images(p))
            elif p.is_file():
                out.extend(list_file_images(p))
            else:
                raise DatasetError(f"{self.path}: {split} entry {entry!r} does not exist ({p})")
        return out


def list_file_images(list_file: Path) -> list[Path]:
    """A list file's images: `./x` is relative to the list's folder; other lines are used as written."""
    out = []
    for line in list_file.read_text(encoding="utf-8-sig").splitlines():
        line = line.strip()
        if line:
            out.append(list_file.parent / line[2:] if line.startswith("./") else Path(line))
    return out


def load_data_yaml(data_yaml: Path) -> DataSpec:
    """Read a data.yaml; DatasetError when it is missing or not a mapping."""
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise DatasetError(f"dataset {data_yaml} does not exist")
    try:
        raw = yaml.safe_load(data_yaml.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DatasetError(f"{data_yaml} is not valid YAML: {exc}".splitlines()[0]) from exc
    if not isinstance(raw, dict):
        raise DatasetError(f"{data_yaml} must be a mapping (train, val, names), got {type(raw).__name__}")
    splits = {s: ([str(v) for v in raw[s]] if isinstance(raw[s], list) else [str(raw[s])]) for s in SPLITS if raw.get(s)}
    return DataSpec(data_yaml, class_names(raw.get("names"), where=str(data_yaml)), data_root(data_yaml, raw), splits, raw)


def write_data_yaml(
    data_yaml: Path, *, names: list[str], splits: Mapping[str, str], root: Path | None = None
) -> Path:
    """Write a data.yaml: `path` (when given), the split entries, `nc` and `names` as id -> name."""
    spec: dict[str, Any] = {"path": str(root)} if root is not None else {}
    spec.update({s: splits[s] for s in SPLITS if s in splits})
    spec.update(nc=len(names), names=dict(enumerate(names)))
    data_yaml.parent.mkdir(parents=True, exist_ok=True)
    data_yaml.write_text(yaml.safe_dump(spec, sort_keys=False))
    return data_yaml
