"""Importing a labelled source into the imported-set layout, and reading that layout back.

An imported set is a folder:

    images/<sha256[:16]><ext>   each distinct scan once, bytes unchanged
    samples.jsonl               one line per scan: id (sha256), file, width, height, subset,
                                origins (every source file that held these bytes), boxes [cls, x1, y1, x2, y2]
                                in pixels with taxonomy ids, near (ids of perceptual near-duplicates),
                                phash (64-bit perceptual hash, hex)
    import.json                 provenance (format, source, name map, taxonomy) and the hygiene report

Copies of one scan become one sample carrying all their boxes. When copies sat in different source
subsets, the sample takes the evaluation-most one (test, then val, then train), so no scan that a
source put in an evaluation split can end up in training.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, SupportsFloat, SupportsInt

import numpy as np

from xscreen.datasets.hygiene import (
    DEFAULT_MIN_BOX_PX,
    DEFAULT_NEAR_DUPLICATE_BITS,
    HygieneReport,
    clip_boxes,
    content_hash,
    inspect_image,
    near_duplicate_pairs,
    unique_boxes,
)
from xscreen.datasets.importers import READERS
from xscreen.datasets.importers.names import NameMap, check_names
from xscreen.datasets.importers.records import SourceSample
from xscreen.errors import DatasetError
from xscreen.vision.taxonomy import Taxonomy
from xscreen.vision.yolo import Box

log = logging.getLogger(__name__)

MANIFEST = "samples.jsonl"
REPORT = "import.json"
# Which source subset a scan found in several keeps: evaluation before training.
_SUBSET_RANK = {"test": 0, "testing": 0, "val": 1, "valid": 1, "validation": 1, "train": 3, "training": 3}

def _box(class_id: SupportsInt, xyxy: Iterable[SupportsFloat]) -> Box:
    """A box from a class id and a row of 4 numbers (numpy or JSON), as plain ints and floats."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return (int(class_id), x1, y1, x2, y2)


@dataclass
class ImportedSample:
    id: str  # sha256 of the image bytes
    file: str  # relative to the imported set
    width: int
    height: int
    subset: str | None
    origins: list[str]
    boxes: list[Box] = field(default_factory=list)
    near: list[str] = field(default_factory=list)
    phash: int | None = None  # 64-bit perceptual hash, for near-duplicate checks across sources

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id, "file": self.file, "width": self.width, "height": self.height,
                "subset": self.subset, "origins": self.origins,
                "boxes": [[b[0], *(round(v, 2) for v in b[1:])] for b in self.boxes], "near": self.near,
                "phash": None if self.phash is None else f"{self.phash:016x}",
            }
        )


@dataclass
class ImportResult:
    out: Path | None
    samples: list[ImportedSample]
    report: HygieneReport
    meta: dict
    source_files: dict[str, Path]  # sample id -> the first source file holding its bytes

    def class_counts(self, taxonomy: Taxonomy) -> dict[str, int]:
        counts = Counter(taxonomy.names[b[0]] for s in self.samples for b in s.boxes)
        return {n: counts[n] for n in taxonomy.names if counts[n]}


def _subset_rank(subset: str | None) -> tuple[int, str]:
    return (_SUBSET_RANK.get((subset or "").lower(), 2), subset or "")


def import_dataset(
    fmt: str,
    src: Path,
    out: Path | None,
    *,
    name_map: NameMap,
    taxonomy: Taxonomy,
    ignore_unknown: bool = False,
    near_duplicate_bits: int = DEFAULT_NEAR_DUPLICATE_BITS,
    min_box_px: float = DEFAULT_MIN_BOX_PX,
    workers: int = 2,
) -> ImportResult:
    """Read `src` in format `fmt`, map names, apply hygiene, write the imported set to `out`.

    With `out=None` nothing is written: the builder reads the scans from `source_files` instead.
    """
    if fmt not in READERS:
        raise DatasetError(f"unknown format {fmt!r}; known: {', '.join(READERS)}")
    src = Path(src)
    if not src.exists():
        raise DatasetError(f"source {src} does not exist")
    listed = list(READERS[fmt](src))
    if not listed:
        raise DatasetError(f"no labelled images found under {src} as {fmt}")
    report = HygieneReport(images_listed=len(listed))
    seen = Counter(b.name for s in listed for b in s.boxes)
    report.boxes_read = sum(seen.values())
    unknown = check_names(seen, name_map, ignore_unknown=ignore_unknown)
    report.boxes_unmapped = {n: c for n, c in sorted(seen.items()) if n in unknown or name_map.mapping.get(n, "") is None}

    # Group the listed files by content: byte-identical copies are one scan.
    def read(sample: SourceSample) -> tuple[str, bytes]:
        data = sample.image.read_bytes()
        return content_hash(data), data

    groups: dict[str, list[SourceSample]] = {}
    payload: dict[str, bytes] = {}
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for sample, (digest, data) in zip(listed, pool.map(read, listed)):
            groups.setdefault(digest, []).append(sample)
            payload.setdefault(digest, data)
        digests = list(groups)
        decoded = dict(zip(digests, pool.map(lambda d: inspect_image(payload[d]), digests)))

    def rel(path: Path) -> str:
        return str(path.relative_to(src)) if src.is_dir() else path.name

    samples: list[ImportedSample] = []
    hashes: list[int] = []
    for digest, copies in groups.items():
        info = decoded[digest]
        names = [rel(c.image) for c in copies]
        if info is None:
            report.unreadable.extend(names)
            continue
        width, height, phash = info
        if len(copies) > 1:
            report.identical_groups.append(names)
            if len({c.subset for c in copies}) > 1:
                report.identical_across_subsets += 1
        boxes = _merge_boxes(copies, width, height, name_map, taxonomy, unknown, min_box_px, report)
        subset = min((c.subset for c in copies), key=_subset_rank)
        suffix = copies[0].image.suffix.lower()
        samples.append(ImportedSample(digest, f"images/{digest[:16]}{suffix}", width, height, subset, names, boxes, phash=phash))
        hashes.append(phash)
    report.unique_images = len(samples)
    report.boxes_kept = sum(len(s.boxes) for s in samples)
    for i, j, bits in near_duplicate_pairs(hashes, near_duplicate_bits):
        samples[i].near.append(samples[j].id)
        samples[j].near.append(samples[i].id)
        report.near_duplicates.append((samples[i].origins[0], samples[j].origins[0], bits))

    meta = {
        "format": fmt,
        "source": str(src.resolve()),
        "name_map": str(name_map.path) if name_map.path else None,
        "mapping": name_map.mapping,
        "taxonomy": {"version": taxonomy.version, "names": taxonomy.names},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "samples": len(samples),
        "hygiene": report.to_dict(),
    }
    if out is not None:
        _write(out, samples, payload, meta)
    log.info(
        "imported %d scans from %d files (%d identical groups merged, %d near-duplicate pairs, %d unreadable) into %s",
        len(samples), len(listed), len(report.identical_groups), len(report.near_duplicates), len(report.unreadable), out or "memory",
    )
    return ImportResult(out, samples, report, meta, {s.id: groups[s.id][0].image for s in samples})


def _merge_boxes(
    copies: list[SourceSample], width: int, height: int, name_map: NameMap, taxonomy: Taxonomy,
    unknown: set[str], min_box_px: float, report: HygieneReport,
) -> list[Box]:
    merged: list[Box] = []
    for copy in copies:
        scale = np.array([width, height, width, height], dtype=np.float64) if copy.normalized else np.ones(4)
        mapped = [(name_map.class_id(b.name, taxonomy), b.xyxy) for b in copy.boxes if b.name not in unknown]
        known = [(cid, xyxy) for cid, xyxy in mapped if cid is not None]
        if not known:
            continue
        xyxy = np.array([m[1] for m in known], dtype=np.float64) * scale
        clipped, keep, n_clipped, n_degenerate = clip_boxes(xyxy, width, height, min_box_px)
        report.boxes_clipped += n_clipped
        report.boxes_degenerate += n_degenerate
        merged.extend(_box(known[k][0], clipped[k]) for k in np.nonzero(keep)[0])
    kept = unique_boxes(merged)
    report.boxes_merged_away += len(merged) - len(kept)
    return kept


def _write(out: Path, samples: list[ImportedSample], payload: dict[str, bytes], meta: dict) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MANIFEST).is_file():
            raise DatasetError(f"{out} exists and is not an imported set; choose an empty or new folder")
        shutil.rmtree(out)  # re-importing replaces a previous import wholesale
    (out / "images").mkdir(parents=True, exist_ok=True)
    for s in samples:
        (out / s.file).write_bytes(payload[s.id])
    (out / MANIFEST).write_text("".join(s.to_json() + "\n" for s in samples))
    (out / REPORT).write_text(json.dumps(meta, indent=2))


def read_imported(root: Path) -> tuple[list[ImportedSample], dict]:
    """The samples and import metadata of an imported set written by `import_dataset`."""
    manifest = Path(root) / MANIFEST
    if not manifest.is_file():
        raise DatasetError(f"{root} is not an imported set (no {MANIFEST}); run `xscreen data import` first")
    samples = []
    for line in manifest.read_text().splitlines():
        d = json.loads(line)
        boxes = [_box(b[0], b[1:]) for b in d["boxes"]]
        phash = int(d["phash"], 16) if d.get("phash") else None
        samples.append(ImportedSample(d["id"], d["file"], d["width"], d["height"], d["subset"], d["origins"], boxes, d.get("near", []), phash))
    meta = json.loads((Path(root) / REPORT).read_text()) if (Path(root) / REPORT).is_file() else {}
    return samples, meta
