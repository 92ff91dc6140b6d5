"""Write a synthetic dataset in ultralytics layout, reproducibly and in parallel.

Layout of `out_dir`:
    data.yaml                     path, train, val, names (the taxonomy's classes, in id order)
    synth_config.yaml             the recipe used (with its sha256 in every scan's metadata)
    images/{train,val}/NAME.jpg   display images (pseudo-colour; gray profiles per `gray_as_colour`)
    labels/{train,val}/NAME.txt   YOLO rows "class cx cy w h", normalised; empty file = no labelled object
    meta/{train,val}/NAME.json    seed, index, profile, container, every object (shapes, materials, poses),
                                  every labelled footprint (box, visibility, in_frame, kept, reason)
    raw/{train,val}/NAME_{low,high}.png   with raw=True: calibrated 16-bit channels (65535 = air), same size
With val_fraction 0 there is one split, train, and data.yaml names it for val as well.

Scan i draws everything from numpy's Generator seeded with (seed, i), and its split from (seed, i, 1),
so a scan's bytes depend only on (seed, i, config), never on the number of workers or their order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Collection

import cv2
import numpy as np
import yaml

from xscreen.datasets.synth.config import SynthConfig, load_config
from xscreen.datasets.synth.labels import yolo_rows
from xscreen.datasets.synth.scene import render_scene, sample_scene
from xscreen.vision.taxonomy import Taxonomy, load_taxonomy
from xscreen.vision.xray.profiles import load_profile
from xscreen.vision.yolo import Label, label_path, write_labels
from xscreen.vision.yolo import write_data_yaml as write_yolo_yaml

log = logging.getLogger(__name__)


@dataclass
class GeneratedScan:
    """One generated scan and what is written of it (not `xscreen.vision.scan.Scan`, a decoded input)."""

    name: str
    split: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    rows: list[Label]
    meta: dict
    raw: dict[str, np.ndarray]


def scan_name(index: int) -> str:
    return f"synth_{index:07d}"


def split_of(seed: int, index: int, val_fraction: float) -> str:
    return "val" if val_fraction > 0 and np.random.default_rng([seed, index, 1]).random() < val_fraction else "train"


def forced_val_index(seed: int, count: int, val_fraction: float) -> int | None:
    """The scan moved to val when no scan of a small set drew val (`synth --count 6` left val empty, and
    ultralytics then validates on nothing): the last one. None when val has a scan or there is no val."""
    if val_fraction <= 0 or count < 2 or any(split_of(seed, i, val_fraction) == "val" for i in range(count)):
        return None
    return count - 1


def make_scan(index: int, seed: int, config: SynthConfig, taxonomy: Taxonomy, *, config_sha: str = "") -> GeneratedScan:
    """Sample, render and label scan `index` of the dataset seeded `seed`."""
    from xscreen.vision.xray.convert import gray_to_colour
    from xscreen.vision.xray.render import render_gray, render_pseudocolour

    rng = np.random.default_rng([seed, index])
    scene = sample_scene(rng, config, taxonomy)
    profile = load_profile(scene.profile)
    rendered = render_scene(scene, rng, profile=profile, config=config)
    size = (scene.width, scene.height)
    if profile.kind == "gray" or not profile.beam.dual_energy:
        gray = render_gray(rendered.raw["high"], profile)
        image = gray_to_colour(gray, profile) if config.gray_as_colour else np.repeat(gray[..., None], 3, axis=2)
        kind = "gray"
    else:
        image = render_pseudocolour(rendered.raw["low"], rendered.raw["high"], profile)
        kind = "colour"
    if image.shape[1::-1] != size:
        # The detector grid is coarser than the output (config.render_scale): scanners interpolate too.
        image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    raw = {k: cv2.resize(v, size, interpolation=cv2.INTER_LINEAR) if v.shape[1::-1] != size else v for k, v in rendered.raw.items()}
    rows = yolo_rows(rendered.footprints, taxonomy, scene.width, scene.height)
    meta = {
        "name": scan_name(index),
        "seed": seed,
        "index": index,
        "config_sha256": config_sha,
        "taxonomy_version": taxonomy.version,
        "kind": kind,
        "shown_as": "colour" if kind == "colour" or config.gray_as_colour else "gray",
        "render_scale": config.render_scale,
        "scene": scene.to_meta(),
        "labels": [fp.to_meta() for fp in rendered.footprints],
        "threat_count": sum(1 for fp in rendered.footprints if fp.kept and taxonomy.by_name(fp.label).is_threat),
    }
    return GeneratedScan(scan_name(index), split_of(seed, index, config.val_fraction), image, rows, meta, raw)


def write_scan(scan: GeneratedScan, out_dir: Path, config: SynthConfig, raw: bool) -> None:
    img_path = out_dir / "images" / scan.split / f"{scan.name}.{config.image_format}"
    bgr = cv2.cvtColor(scan.image, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, load_profile(scan.meta["scene"]["profile"]).display.jpeg_quality] if config.image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    if not cv2.imwrite(str(img_path), bgr, params):
        raise OSError(f"could not write {img_path}")
    write_labels(label_path(img_path), scan.rows)
    (out_dir / "meta" / scan.split / f"{scan.name}.json").write_text(json.dumps(scan.meta, separators=(",", ":")))
    if raw:
        for channel, arr in scan.raw.items():
            cv2.imwrite(str(out_dir / "raw" / scan.split / f"{scan.name}_{channel}.png"), arr)


# Worker state: each process loads the config and taxonomy once (set by the pool initialiser).
_WORKER: dict = {}


def _init_worker(config: SynthConfig, taxonomy: Taxonomy, out_dir: Path, seed: int, raw: bool, config_sha: str, single_thread: bool = False,
                 force_val: int | None = None) -> None:
    if single_thread:
        cv2.setNumThreads(1)  # one process per core already; OpenCV's own threads would only contend
    _WORKER.update(config=config, taxonomy=taxonomy, out_dir=out_dir, seed=seed, raw=raw, config_sha=config_sha, force_val=force_val)


def _work(index: int) -> tuple[int, str, int]:
    w = _WORKER
    scan = make_scan(index, w["seed"], w["config"], w["taxonomy"], config_sha=w["config_sha"])
    if index == w["force_val"]:
        scan = replace(scan, split="val")
    write_scan(scan, w["out_dir"], w["config"], w["raw"])
    return index, scan.split, len(scan.rows)


def generate_dataset(out_dir: Path, *, count: int, seed: int, config: Path | None = None, workers: int = 1, raw: bool = False,
                     progress: bool = True, taxonomy: Taxonomy | None = None) -> Path:
    """Generate `count` scans into `out_dir`; returns the data.yaml path (see the module docstring)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    out_dir = Path(out_dir)
    cfg = load_config(config)
    taxonomy = taxonomy or load_taxonomy()
    cfg_text = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=True)
    cfg_sha = hashlib.sha256(cfg_text.encode()).hexdigest()
    splits = ["train", "val"] if cfg.val_fraction > 0 else ["train"]
    for sub in ("images", "labels", "meta") + (("raw",) if raw else ()):
        for split in splits:
            (out_dir / sub / split).mkdir(parents=True, exist_ok=True)
    (out_dir / "synth_config.yaml").write_text(cfg_text)
    for name in cfg.profiles:
        # Unknown profile: fail before starting workers. Building the tables here also lets forked
        # workers inherit them instead of each spending seconds on spekpy and xraydb.
        _warm(load_profile(name))

    force_val = forced_val_index(seed, count, cfg.val_fraction)
    counts = {"train": 0, "val": 0}
    labelled = 0
    indices = range(count)
    with _progress(progress, count) as advance:
        if workers <= 1:
            _init_worker(cfg, taxonomy, out_dir, seed, raw, cfg_sha, force_val=force_val)
            results = map(_work, indices)
            for _, split, n in results:
                counts[split] += 1
                labelled += n
                advance()
        else:
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
            with ctx.Pool(workers, initializer=_init_worker, initargs=(cfg, taxonomy, out_dir, seed, raw, cfg_sha, True, force_val)) as pool:
                for _, split, n in pool.imap_unordered(_work, indices, chunksize=4):
                    counts[split] += 1
                    labelled += n
                    advance()
    data_yaml = write_data_yaml(out_dir, taxonomy, splits)
    log.info("wrote %d scans (%d train, %d val, %d labelled objects) to %s", count, counts["train"], counts["val"], labelled, out_dir)
    return data_yaml


def write_data_yaml(out_dir: Path, taxonomy: Taxonomy, splits: Collection[str]) -> Path:
    """ultralytics' data.yaml for a generated set; `val` falls back to the train images when no scan went to val."""
    entries = {"train": "images/train", "val": "images/val" if "val" in splits else "images/train", **({"test": "images/test"} if "test" in splits else {})}
    (out_dir / "images" / "train").mkdir(parents=True, exist_ok=True)
    return write_yolo_yaml(out_dir / "data.yaml", names=taxonomy.names, splits=entries, root=out_dir.resolve())


def _warm(profile) -> None:
    from xscreen.vision.xray.physics import transmission_model
    from xscreen.vision.xray.render import colour_lut_u8

    transmission_model(profile.beam_spec)
    if profile.kind == "colour":
        colour_lut_u8(profile)


class _progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self._p = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                           console=Console(stderr=True))
        self._p.__enter__()
        task = self._p.add_task("synth", total=self.total)
        return lambda: self._p.advance(task)

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self._p.__exit__(*exc)
