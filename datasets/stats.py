"""Statistics of a dataset (an ultralytics data.yaml folder or an imported set), its PNG plots and the
dataset card a build writes beside data.yaml.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xscreen.datasets.layout import read_manifest
from xscreen.errors import DatasetError
from xscreen.vision.yolo import label_path, load_data_yaml, read_labels

if TYPE_CHECKING:
    from xscreen.datasets.recipe import BuildRecipe

log = logging.getLogger(__name__)

# COCO's size bands (pixel area of the box): small < 32^2 <= medium < 96^2 <= large.
SMALL, LARGE = 32**2, 96**2


@dataclass
class Spread:
    min: float
    p50: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> "Spread | None":
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0:
            return None
        return cls(float(v.min()), float(np.median(v)), float(v.max()), float(v.mean()))


@dataclass
class SplitStats:
    images: int = 0
    background_images: int = 0  # no boxes: negatives
    boxes: dict[str, int] = field(default_factory=dict)  # class name -> boxes
    images_with: dict[str, int] = field(default_factory=dict)  # class name -> images holding one
    sources: dict[str, int] = field(default_factory=dict)  # source -> images (built sets)


@dataclass
class DatasetStats:
    root: str
    names: list[str]
    splits: dict[str, SplitStats]
    image_width: Spread | None
    image_height: Spread | None
    box_width_px: Spread | None
    box_height_px: Spread | None
    box_area_fraction: Spread | None  # box area / image area
    box_size_bands: dict[str, int]  # small / medium / large (COCO bands)
    # Raw per-image and per-box values for the plots; left out of the JSON.
    _image_sizes: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _box_sizes: list[tuple[int, float, float]] = field(default_factory=list, repr=False)  # class, w, h px

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("_image_sizes")
        d.pop("_box_sizes")
        return d


@dataclass
class _Image:
    split: str
    source: str | None
    width: int
    height: int
    boxes: list[tuple[int, float, float]]  # class id, width px, height px


def compute_stats(root: Path) -> DatasetStats:
    """Statistics of the dataset in `root`: a folder with data.yaml, or an `xscreen data import` folder."""
    root = Path(root)
    if (root / "data.yaml").is_file():
        names, images = _read_yolo(root)
    elif (root / "samples.jsonl").is_file():
        names, images = _read_imported(root)
    else:
        raise DatasetError(f"{root} holds neither data.yaml nor samples.jsonl: not a dataset")
    splits: dict[str, SplitStats] = {}
    widths, heights, bw, bh, frac = [], [], [], [], []
    bands: Counter[str] = Counter()
    box_sizes: list[tuple[int, float, float]] = []
    for im in images:
        st = splits.setdefault(im.split, SplitStats())
        st.images += 1
        if im.source:
            st.sources[im.source] = st.sources.get(im.source, 0) + 1
        if not im.boxes:
            st.background_images += 1
        for cid in {b[0] for b in im.boxes}:
            st.images_with[names[cid]] = st.images_with.get(names[cid], 0) + 1
        widths.append(im.width)
        heights.append(im.height)
        for cid, w, h in im.boxes:
            st.boxes[names[cid]] = st.boxes.get(names[cid], 0) + 1
            bw.append(w)
            bh.append(h)
            frac.append(w * h / max(1, im.width * im.height))
            bands["small" if w * h < SMALL else "medium" if w * h < LARGE else "large"] += 1
            box_sizes.append((cid, w, h))
    for st in splits.values():  # taxonomy order, so every table reads the same way
        st.boxes = {n: st.boxes[n] for n in names if n in st.boxes}
        st.images_with = {n: st.images_with[n] for n in names if n in st.images_with}
    order = {s: i for i, s in enumerate(("train", "val", "test"))}
    return DatasetStats(
        root=str(root), names=names, splits=dict(sorted(splits.items(), key=lambda kv: order.get(kv[0], 9))),
        image_width=Spread.of(widths), image_height=Spread.of(heights),
        box_width_px=Spread.of(bw), box_height_px=Spread.of(bh), box_area_fraction=Spread.of(frac),
        box_size_bands={k: bands[k] for k in ("small", "medium", "large")},
        _image_sizes=list(zip(widths, heights)), _box_sizes=box_sizes,
    )


def _read_yolo(root: Path) -> tuple[list[str], list[_Image]]:
    from PIL import Image

    spec = load_data_yaml(root / "data.yaml")
    sources = _manifest_sources(root)
    images: list[_Image] = []
    for split in spec.splits:
        for image in spec.images(split):
            with Image.open(image) as img:
                w, h = img.size
            boxes = [(label.class_id, label.w * w, label.h * h) for label in read_labels(label_path(image))]
            images.append(_Image(split, sources.get(image.name), w, h, boxes))
    return spec.names, images


def _manifest_sources(root: Path) -> dict[str, str]:
    return {Path(d["file"]).name: d["source"] for d in read_manifest(root)}


def _read_imported(root: Path) -> tuple[list[str], list[_Image]]:
    from xscreen.datasets.importers.imported import read_imported

    samples, meta = read_imported(root)
    names = list(meta.get("taxonomy", {}).get("names") or [])
    if not names:
        from xscreen.vision.taxonomy import load_taxonomy

        names = load_taxonomy().names
    images = [
        _Image(s.subset or "all", None, s.width, s.height, [(b[0], b[3] - b[1], b[4] - b[2]) for b in s.boxes])
        for s in samples
    ]
    return names, images


def plot_stats(stats: DatasetStats, out_dir: Path) -> list[Path]:
    """PNG plots: boxes per class and split, box sizes, image sizes. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(stats.names))
    width = 0.8 / max(1, len(stats.splits))
    for i, (split, st) in enumerate(stats.splits.items()):
        ax.bar(x + i * width, [st.boxes.get(n, 0) for n in stats.names], width, label=split)
    ax.set_xticks(x + width * (len(stats.splits) - 1) / 2, stats.names, rotation=30, ha="right")
    ax.set_ylabel("boxes")
    ax.set_title("Boxes per class and split")
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, out_dir / "class_counts.png"))

    fig, ax = plt.subplots(figsize=(6, 5))
    sizes = np.array(stats._box_sizes, dtype=np.float64).reshape(-1, 3)
    for cid in np.unique(sizes[:, 0]).astype(int):
        sel = sizes[:, 0] == cid
        ax.scatter(sizes[sel, 1], sizes[sel, 2], s=4, alpha=0.5, label=stats.names[cid])
    if len(sizes):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(markerscale=3, fontsize=8)
    ax.set_xlabel("box width (px)")
    ax.set_ylabel("box height (px)")
    ax.set_title("Box sizes")
    fig.tight_layout()
    written.append(_save(fig, out_dir / "box_sizes.png"))

    fig, ax = plt.subplots(figsize=(6, 5))
    im = np.array(stats._image_sizes, dtype=np.float64).reshape(-1, 2)
    ax.scatter(im[:, 0], im[:, 1], s=4, alpha=0.5)
    ax.set_xlabel("image width (px)")
    ax.set_ylabel("image height (px)")
    ax.set_title("Image sizes")
    fig.tight_layout()
    written.append(_save(fig, out_dir / "image_sizes.png"))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_card(out: Path, stats: DatasetStats, *, recipe: "BuildRecipe", reports: dict[str, dict]) -> Path:
    """stats.json, plots/*.png and README.md (the dataset card) in the built dataset `out`."""
    from xscreen.datasets.recipe import ImportSource

    (out / "stats.json").write_text(json.dumps(stats.to_dict(), indent=2))
    plots = plot_stats(stats, out / "plots")
    lines = [f"# Dataset card: {recipe.name}", ""]
    if recipe.description:
        lines += [recipe.description.strip(), ""]
    lines += ["## Provenance and licences", "", "| source | kind | origin | licence | citation |", "|---|---|---|---|---|"]
    for s in recipe.sources:
        origin = str(getattr(s, "src", None) or getattr(s, "imported", None) or getattr(s, "config", None) or "")
        if s.kind == "synthetic":
            origin = f"generator, {s.count} scans, seed {s.seed}" + (f", {s.config}" if s.config else "")
        elif s.kind == "tip":
            origin = f"{s.count} composites on {', '.join(s.backgrounds)}, seed {s.seed}"
        lines.append(f"| {s.name} | {s.kind} | {origin} | {s.licence or '-'} | {s.citation or '-'} |")
    lines += [
        "",
        "## Preparation",
        "",
        f"- colour: {recipe.colour}; long side capped at {recipe.max_side or 'original'} px; JPEG quality {recipe.jpeg_quality}",
        f"- split by content hash, ratios {recipe.split.ratios}, seed {recipe.split.seed}; near-duplicates kept together: {recipe.split.group_near_duplicates}",
    ]
    for s in recipe.sources:
        if isinstance(s, ImportSource) and s.subsets:
            lines.append(f"- {s.name}: source subsets honoured as splits {s.subsets}")
    lines += ["", "## Hygiene (per imported source)", ""]
    for name, meta in reports.items():
        h = meta.get("hygiene", {})
        lines.append(
            f"- {name}: {h.get('images_listed')} files, {h.get('unique_images')} distinct scans; "
            f"{len(h.get('identical_groups', []))} groups of byte-identical copies merged "
            f"({h.get('identical_across_subsets')} straddled source splits); {len(h.get('near_duplicates', []))} near-duplicate pairs; "
            f"{len(h.get('unreadable', []))} unreadable; boxes: {h.get('boxes_read')} read, {h.get('boxes_clipped')} clipped, "
            f"{h.get('boxes_degenerate')} degenerate dropped, unmapped {h.get('boxes_unmapped') or 'none'}"
        )
    lines += ["", "## Counts", "", *stats_markdown(stats), "", "## Plots", ""]
    lines += [f"![{p.stem}](plots/{p.name})" for p in plots]
    card = out / "README.md"
    card.write_text("\n".join(lines) + "\n")
    return card


def stats_markdown(stats: DatasetStats) -> list[str]:
    splits = list(stats.splits)
    lines = ["| class | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for n in stats.names:
        lines.append(f"| {n} | " + " | ".join(str(stats.splits[s].boxes.get(n, 0)) for s in splits) + " |")
    lines.append("| **images** | " + " | ".join(str(stats.splits[s].images) for s in splits) + " |")
    lines.append("| background images | " + " | ".join(str(stats.splits[s].background_images) for s in splits) + " |")
    srcs = sorted({k for s in stats.splits.values() for k in s.sources})
    for src in srcs:
        lines.append(f"| images from {src} | " + " | ".join(str(stats.splits[s].sources.get(src, 0)) for s in splits) + " |")
    lines.append("")

    def fmt(label: str, s: Spread | None, digits: int = 0) -> str:
        return f"| {label} | - | - | - | - |" if s is None else f"| {label} | {s.min:.{digits}f} | {s.p50:.{digits}f} | {s.max:.{digits}f} | {s.mean:.{digits}f} |"

    lines += [
        "| size | min | median | max | mean |", "|---|---|---|---|---|",
        fmt("image width (px)", stats.image_width), fmt("image height (px)", stats.image_height),
        fmt("box width (px)", stats.box_width_px), fmt("box height (px)", stats.box_height_px),
        fmt("box area / image area", stats.box_area_fraction, 4),
        "",
        f"Box size bands (COCO): small {stats.box_size_bands['small']}, medium {stats.box_size_bands['medium']}, large {stats.box_size_bands['large']}.",
    ]
    return lines
