"""`xscreen data build`: assemble an ultralytics training set from a recipe (`configs/data/*.yaml`).

The procedure, top to bottom:
 1. import each real source (or read an earlier `xscreen data import` folder);
 2. drop scans already contributed by an earlier source (same bytes);
 3. split by content hash, honouring source split folders where the recipe maps them, with copies and
    near-duplicates kept together (`xscreen.datasets.split`);
 4. add synthetic scans and threat-image-projection composites (each composite takes its background's split);
 5. prepare pixels (colour or gray, long side capped) and write images/, labels/, data.yaml, per-source
    evaluation lists, a manifest and the dataset card.

Every dataset's data.yaml lists the full taxonomy in id order, so class ids agree across datasets.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from xscreen.datasets.hygiene import DEFAULT_NEAR_DUPLICATE_BITS, content_hash, near_duplicate_pairs
from xscreen.datasets.importers.imported import ImportedSample, import_dataset, read_imported
from xscreen.datasets.importers.names import load_name_map
from xscreen.datasets.layout import MANIFEST
from xscreen.datasets.recipe import BuildRecipe, ImportSource, SyntheticSource, TipSource, resolve
from xscreen.datasets.split import SPLITS, assign_splits, check_ratios, hash_fraction, split_for
from xscreen.errors import ConfigError, DatasetError
from xscreen.vision.taxonomy import Taxonomy, load_taxonomy
from xscreen.vision.yolo import Box, boxes_to_labels, image_path, label_path, load_data_yaml, read_labels, write_data_yaml, write_labels

log = logging.getLogger(__name__)

BUILD_FILE = "build.json"


@dataclass
class BuildSample:
    source: str
    id: str  # sha256 of the source image bytes (composites: of their recipe)
    boxes: list[Box]
    load: Callable[[], bytes | np.ndarray]  # encoded bytes, or BGR / gray pixels
    # Composites are made when written (bounded memory, the writer's threads): pixels and their boxes.
    render: Callable[[], tuple[np.ndarray, list[Box]]] | None = None
    suffix: str = ".jpg"
    width: int = 0  # of the encoded source image; 0 when `load` gives pixels
    height: int = 0
    split: str | None = None
    fixed_split: str | None = None
    near: list[str] = field(default_factory=list)
    phash: int | None = None
    origins: list[str] = field(default_factory=list)


@dataclass
class BuildResult:
    out: Path
    data_yaml: Path
    counts: dict[str, dict[str, int]]  # source -> split -> images
    duplicates_across_sources: int


def build_dataset(recipe: BuildRecipe, out: Path, *, workers: int = 2, overwrite: bool = False, progress: bool = False) -> BuildResult:
    """Assemble the dataset described by `recipe` in `out`; returns where data.yaml is and the counts."""
    taxonomy = load_taxonomy(resolve(recipe.taxonomy))
    ratios = check_ratios(recipe.split.ratios)
    out = Path(out)
    _prepare_out(out, overwrite=overwrite)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=out))
    try:
        reports: dict[str, dict] = {}
        samples: list[BuildSample] = []
        seen: set[str] = set()
        duplicates = 0
        for source in recipe.sources:
            if isinstance(source, ImportSource):
                got, reports[source.name] = _import_source(source, taxonomy)
                fresh = [s for s in got if s.id not in seen]
                duplicates += len(got) - len(fresh)
                seen.update(s.id for s in fresh)
                samples.extend(fresh)

        cross = _cross_source_near_duplicates(samples)
        links = [(s.id, n) for s in samples for n in s.near] + [(a.id, b.id) for a, b in cross] if recipe.split.group_near_duplicates else []
        splits = assign_splits({s.id: s.fixed_split for s in samples}, ratios, recipe.split.seed, links)
        for s in samples:
            s.split = splits[s.id]

        for source in recipe.sources:
            if isinstance(source, SyntheticSource):
                samples.extend(_synthetic_source(source, work, taxonomy, ratios, recipe.split.seed, workers, progress))
            elif isinstance(source, TipSource):
                samples.extend(_tip_source(source, samples, taxonomy, recipe.max_side))

        _write_samples(samples, out, recipe, workers)
        data_yaml = _write_yaml(samples, out, taxonomy)
        counts = _counts(samples)
        _write_records(samples, out, recipe, reports, counts, duplicates, ratios, cross)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    from xscreen.datasets.stats import compute_stats, write_card

    stats = compute_stats(out)
    write_card(out, stats, recipe=recipe, reports=reports)
    log.info("built %s: %s", out, {src: sum(c.values()) for src, c in counts.items()})
    return BuildResult(out, data_yaml, counts, duplicates)


def _cross_source_near_duplicates(samples: list[BuildSample]) -> list[tuple[BuildSample, BuildSample]]:
    """Near-duplicate pairs between different sources (e.g. one set imported twice, once re-encoded)."""
    hashed = [s for s in samples if s.phash is not None]
    if len({s.source for s in hashed}) < 2:  # within one source the import already grouped them
        return []
    pairs = near_duplicate_pairs([s.phash for s in hashed], DEFAULT_NEAR_DUPLICATE_BITS)  # type: ignore[misc]
    return [(hashed[i], hashed[j]) for i, j, _ in pairs if hashed[i].source != hashed[j].source]


def _prepare_out(out: Path, *, overwrite: bool) -> None:
    if out.exists() and any(p for p in out.iterdir() if not p.name.startswith(".build-")):
        if not (out / BUILD_FILE).is_file():
            raise DatasetError(f"{out} exists and is not a built dataset; choose a new or empty folder")
        if not overwrite:
            raise DatasetError(f"{out} already holds a built dataset; pass --overwrite to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _import_source(source: ImportSource, taxonomy: Taxonomy) -> tuple[list[BuildSample], dict]:
    if source.imported is not None:
        root = resolve(source.imported)
        assert root is not None
        imported, meta = read_imported(root)
        if meta.get("taxonomy", {}).get("names") not in (None, taxonomy.names):
            raise DatasetError(f"{root} was imported against another taxonomy ({meta['taxonomy']['names']}); import it again")
        files = {s.id: root / s.file for s in imported}
    else:
        src, names = resolve(source.src), resolve(source.names)
        assert src is not None and names is not None and source.format is not None
        result = import_dataset(
            source.format, src, None, name_map=load_name_map(names, taxonomy), taxonomy=taxonomy, ignore_unknown=source.ignore_unknown
        )
        imported, meta, files = result.samples, result.meta, result.source_files
    if source.max_samples is not None and len(imported) > source.max_samples:
        # Salted, so the subset is independent of the split (which hashes the bare id).
        imported = sorted(imported, key=lambda s: hash_fraction(f"subsample:{s.id}", 0))[: source.max_samples]
    return [_from_imported(source, files[s.id], s) for s in imported], meta


def _from_imported(source: ImportSource, path: Path, s: ImportedSample) -> BuildSample:
    return BuildSample(
        source=source.name, id=s.id, boxes=list(s.boxes), load=path.read_bytes, suffix=path.suffix.lower(),
        width=s.width, height=s.height,
        fixed_split=source.subsets.get(s.subset) if s.subset is not None else None,
        near=list(s.near), phash=s.phash, origins=list(s.origins),
    )


def _synthetic_source(
    source: SyntheticSource, work: Path, taxonomy: Taxonomy, ratios: dict[str, float], seed: int, workers: int, progress: bool
) -> list[BuildSample]:
    """Generate the scans, then split them by content hash like every other scan (the generator's own
    train/val draw is not used, so a recipe's ratios, test split included, apply to synthetic scans too)."""
    if source.generated is not None:
        root = resolve(source.generated)
        assert root is not None
        data_yaml = root / "data.yaml"
        if not data_yaml.is_file():
            raise DatasetError(f"source {source.name!r}: {root} has no data.yaml; is it an `xscreen synth` output?")
    else:
        try:
            from xscreen.datasets.synth import generate_dataset
        except ImportError as exc:
            raise ConfigError(f"source {source.name!r}: synthetic sources need xscreen.datasets.synth, which this install lacks") from exc
        root = work / source.name
        data_yaml = generate_dataset(root, count=source.count, seed=source.seed, config=resolve(source.config), workers=workers, progress=progress)
    ids = _taxonomy_ids(load_data_yaml(data_yaml).names, taxonomy, source.name)
    images = sorted((p for p in (root / "images").rglob("*") if p.is_file()), key=lambda p: p.name)[: source.count]
    out: list[BuildSample] = []
    for image in images:
        data = image.read_bytes()
        digest = content_hash(data)
        h, w = _image_size(data)
        boxes = [(ids[c], x1, y1, x2, y2) for c, x1, y1, x2, y2 in (label.to_box(w, h) for label in read_labels(label_path(image)))]
        sample = BuildSample(
            source=source.name, id=digest, boxes=boxes, load=image.read_bytes, suffix=image.suffix.lower(),
            width=w, height=h, split=split_for(digest, ratios, seed), origins=[str(image.relative_to(root))],
        )
        out.append(sample)
    return out


def _taxonomy_ids(names: list[str], taxonomy: Taxonomy, source: str) -> list[int]:
    """Class ids of a generated set in our taxonomy, matched by name (the generator writes taxonomy names)."""
    unknown = [n for n in names if n not in taxonomy.names]
    if unknown:
        raise DatasetError(f"source {source!r}: class names {unknown} are not in the taxonomy")
    return [taxonomy.id_of(n) for n in names]


def _image_size(data: bytes) -> tuple[int, int]:
    """(height, width) from the header alone."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return img.height, img.width


def _tip_source(source: TipSource, samples: list[BuildSample], taxonomy: Taxonomy, max_side: int | None) -> list[BuildSample]:
    """`count` composites, each of one background scan (cycled through in a seeded order) with 1..3
    projected threats. A composite keeps its background's labels and split."""
    try:
        from xscreen.datasets.synth.tip import project_threats
    except ImportError as exc:
        raise ConfigError(f"source {source.name!r}: threat image projection needs xscreen.datasets.synth.tip, which this install lacks") from exc
    if source.classes is not None:
        unknown = sorted(set(source.classes) - set(taxonomy.names))
        if unknown:
            raise ConfigError(f"source {source.name!r}: classes {unknown} are not in the taxonomy")
    pool = sorted((s for s in samples if s.source in source.backgrounds and s.split in source.splits), key=lambda s: s.id)
    if not pool:
        raise DatasetError(f"source {source.name!r}: no background scans in splits {source.splits} of {source.backgrounds}")
    order = np.random.default_rng(source.seed).permutation(len(pool))

    def make(index: int, background: BuildSample) -> Callable[[], tuple[np.ndarray, list[Box]]]:
        def render() -> tuple[np.ndarray, list[Box]]:
            bgr, boxes = _decode_scaled(background, background.load(), max_side)
            rgb, projected = project_threats(
                cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), rng=np.random.default_rng([source.seed, index]), taxonomy=taxonomy,
                count=source.threats_per_scan, classes=source.classes,
            )
            return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), boxes + [(int(c), float(x1), float(y1), float(x2), float(y2)) for c, x1, y1, x2, y2 in projected]

        return render

    out = []
    for i in range(source.count):
        bg = pool[int(order[i % len(pool)])]
        sample = BuildSample(
            source=source.name, id=content_hash(f"tip:{source.seed}:{i}:{bg.id}".encode()), boxes=[], load=bg.load,
            split=bg.split, origins=[f"{bg.source}:{bg.origins[0] if bg.origins else bg.id[:16]}"], render=make(i, bg),
        )
        out.append(sample)
    return out


def _decode_scaled(sample: BuildSample, raw: bytes | np.ndarray, max_side: int | None) -> tuple[np.ndarray, list[Box]]:
    """A sample's pixels (BGR) at the recipe's output size, with its boxes in those pixels. The output
    size comes from the original size, whatever scale libjpeg decoded at."""
    img = raw if isinstance(raw, np.ndarray) else cv2.imdecode(np.frombuffer(raw, np.uint8), _decode_flag(sample, max_side))
    if img is None:
        raise DatasetError(f"{sample.source}: scan {sample.id[:16]} no longer decodes")
    orig_w, orig_h = (sample.width, sample.height) if sample.width > 0 else (img.shape[1], img.shape[0])
    scale = 1.0 if max_side is None else min(1.0, max_side / max(orig_w, orig_h))
    out_w, out_h = max(1, round(orig_w * scale)), max(1, round(orig_h * scale))
    if (img.shape[1], img.shape[0]) != (out_w, out_h):
        img = cv2.resize(img, (out_w, out_h), interpolation=cv2.INTER_AREA)
    sx, sy = out_w / orig_w, out_h / orig_h
    return img, [(c, x1 * sx, y1 * sy, x2 * sx, y2 * sy) for c, x1, y1, x2, y2 in sample.boxes]


def _prepare(sample: BuildSample, recipe: BuildRecipe) -> tuple[bytes, str, list[Box], int, int]:
    """Encoded output image, its suffix, boxes in its pixels, its width and height."""
    if sample.render is not None:
        img, boxes = sample.render()
    else:
        raw = sample.load()
        small = recipe.max_side is None or max(sample.width, sample.height) <= recipe.max_side
        if isinstance(raw, bytes) and recipe.colour == "colour" and small and sample.width > 0:
            return raw, sample.suffix, sample.boxes, sample.width, sample.height  # the bytes as they were
        img, boxes = _decode_scaled(sample, raw, recipe.max_side)
    if recipe.colour == "gray" and img.ndim == 3:
        img = _to_gray(img)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, recipe.jpeg_quality])
    if not ok:
        raise DatasetError(f"{sample.source}: cannot encode scan {sample.id[:16]}")
    return buf.tobytes(), ".jpg", boxes, img.shape[1], img.shape[0]


def _decode_flag(sample: BuildSample, max_side: int | None) -> int:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the image is to shrink at least that much:
    several times faster on 1700 px SIXray scans, and still at least `max_side` before the final resize."""
    long_side = max(sample.width, sample.height)
    if max_side is None or long_side == 0:
        return cv2.IMREAD_COLOR
    for factor, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)):
        if long_side // factor >= max_side:
            return flag
    return cv2.IMREAD_COLOR


def _to_gray(bgr: np.ndarray) -> np.ndarray:
    """Pseudo-colour to gray through the X-ray physics (attenuation), never an RGB average."""
    try:
        from xscreen.vision.xray.convert import colour_to_gray
    except ImportError as exc:
        raise ConfigError("colour: gray needs xscreen.vision.xray.convert.colour_to_gray, which this install lacks") from exc
    return colour_to_gray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _stem(sample: BuildSample) -> str:
    return f"{sample.source}_{sample.id[:16]}"


def _write_samples(samples: list[BuildSample], out: Path, recipe: BuildRecipe, workers: int) -> None:
    for split in SPLITS:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)

    def write(sample: BuildSample) -> None:
        data, suffix, boxes, w, h = _prepare(sample, recipe)
        image = image_path(out / "images" / str(sample.split), _stem(sample), suffix)
        image.write_bytes(data)
        write_labels(label_path(image), boxes_to_labels(boxes, w, h))
        sample.suffix = suffix

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(write, samples))


def _write_yaml(samples: list[BuildSample], out: Path, taxonomy: Taxonomy) -> Path:
    """data.yaml (no `path`: ultralytics then resolves splits beside the file, so the folder can move),
    and per source `data-<source>.yaml` listing only its scans, for per-source evaluation."""
    names = taxonomy.names
    present = [s for s in SPLITS if any(x.split == s for x in samples)]
    data_yaml = write_data_yaml(out / "data.yaml", names=names, splits={s: f"images/{s}" for s in ("train", "val", *(["test"] if "test" in present else []))})
    for source in sorted({s.source for s in samples}):
        lists = {}
        for split in SPLITS:
            files = sorted(f"./images/{split}/{_stem(s)}{s.suffix}" for s in samples if s.source == source and s.split == split)
            if files:
                (out / f"{split}-{source}.txt").write_text("\n".join(files) + "\n")
                lists[split] = f"{split}-{source}.txt"
        # ultralytics insists on train and val keys; a source with no scans in one points at the full split.
        per_source = {"train": lists.get("train", "images/train"), "val": lists.get("val", "images/val"), **({"test": lists["test"]} if "test" in lists else {})}
        write_data_yaml(out / f"data-{source}.yaml", names=names, splits=per_source)
    return data_yaml


def _counts(samples: list[BuildSample]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for s in samples:
        counts.setdefault(s.source, Counter())[str(s.split)] += 1
    return {src: {split: c[split] for split in SPLITS} for src, c in counts.items()}


def _write_records(
    samples: list[BuildSample], out: Path, recipe: BuildRecipe, reports: dict[str, dict],
    counts: dict[str, dict[str, int]], duplicates: int, ratios: dict[str, float], cross: list[tuple[BuildSample, BuildSample]],
) -> None:
    with (out / MANIFEST).open("w") as f:
        for s in samples:
            f.write(json.dumps({"file": f"images/{s.split}/{_stem(s)}{s.suffix}", "source": s.source, "split": s.split, "id": s.id, "origins": s.origins}) + "\n")
    (out / "sources").mkdir(exist_ok=True)
    for name, report in reports.items():
        (out / "sources" / f"{name}.import.json").write_text(json.dumps(report, indent=2))
    record = {
        "recipe": json.loads(recipe.model_dump_json()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "split": {"ratios": ratios, "seed": recipe.split.seed, "group_near_duplicates": recipe.split.group_near_duplicates},
        "counts": counts,
        "duplicates_across_sources": duplicates,
        "near_duplicates_across_sources": [[a.source, a.origins[0], b.source, b.origins[0]] for a, b in cross],
    }
    (out / BUILD_FILE).write_text(json.dumps(record, indent=2, default=str))
