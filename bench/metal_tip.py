"""Throwing stars, razor blades and knives projected into real scans: do they read as firearms (issue 18.4)?

    nice -n 10 .venv/bin/python bench/metal_tip.py --real data/real --out docs/bench/metal_tip.md

The independent gray set holds razor blades and throwing stars; the real validation scans hold none, so the
confusion with them was never measured. This measures it with the generator's objects:

1. The real validation scans (`--real`: SIXray val and OPIXray val, never trained on). Into every scan without
   a firearm, one object is projected as `datasets/synth/tip.py` does it (Beer-Lambert: its dual-energy
   attenuation added to the scan's, inverted from the colour display, and the change rendered back), the kinds
   taking turns: a throwing star, razor blades (loose or a pack), a knife (`THREAT_BUILDERS["knife"]`). The
   scans with a firearm stay as they are. Object i of a scan is seeded from the scan's name: a rerun gives
   the same composites.
2. Both sets, the originals and the composites, rendered as `bench/gray_stations.py` does (`--renderings`:
   colour as sent, the physics gray and gray renderings by other methods) and screened through the stations'
   path with the card of `--model`, its gray path and operating thresholds (as `bench/firearm_confusion.py`;
   the network runs once per distinct input, so the unchanged gun scans cost nothing the second time).
3. Reports per rendering and kind: the share of the inserted objects with a firearm box at or above the card's
   firearm operating threshold for the scan's kind (colour or gray), their highest firearm score (median, p95,
   max) against the firearm scores of the real guns of the same rendering, P(object > gun) as in
   `firearm_confusion.Confusion.outscore`, and firearm AP50 and the firearms category's DR at FAR 5% without
   and with the objects in the gun-free scans.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import firearm_confusion
import gray_stations
import numpy as np

from xscreen.settings import get_settings

logger = logging.getLogger("bench.metal_tip")
KINDS = ("throwing_star", "razor_blade", "knife")  # builders of class knife (datasets/synth/threats.py)


@dataclass
class Inserted:
    """One projected object: where it went (fractions of the scan, so any rendering's size maps it), what it is."""

    scan: str  # the composite's file name
    kind: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of width and height
    kept: bool  # passed the label rule (labelled knife); the faint and hidden ones are scored too
    reason: str
    contrast: float
    info: dict


def composite_set(images: list[Path], out: Path, *, seed: int = 0) -> tuple[list[Path], list[Inserted]]:
    """`out/images/val`: the gun scans copied, every other scan with one object projected (kinds in turn);
    labels beside them (the scan's own, plus the kept objects as knife). Returns the images and the objects."""
    from xscreen.datasets.synth.config import SynthConfig
    from xscreen.datasets.synth.threats import THREAT_BUILDERS
    from xscreen.datasets.synth.tip import ProjectionCanvas
    from xscreen.vision.taxonomy import load_taxonomy
    from xscreen.vision.xray.profiles import load_profile
    from xscreen.vision.yolo import boxes_to_labels, label_path, read_labels, write_labels

    taxonomy, profile, config = load_taxonomy(), load_profile(None), SynthConfig()
    gun = taxonomy.id_of("firearm")
    (out / "images" / "val").mkdir(parents=True, exist_ok=True)
    (out / "labels" / "val").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    inserted: list[Inserted] = []
    turn = 0
    for image in images:
        own = read_labels(label_path(image))
        if any(label.class_id == gun for label in own):
            target = out / "images" / "val" / image.name  # the same name: gray_stations seeds its noise from it
            shutil.copyfile(image, target)
            write_labels(out / "labels" / "val" / f"{image.stem}.txt", own)
            written.append(target)
            continue
        kind = KINDS[turn % len(KINDS)]
        turn += 1
        rng = gray_stations._rng(image.name, f"tip-{seed}")
        bgr = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"error: cannot decode {image}")
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        canvas = ProjectionCanvas(rgb, rng=rng, taxonomy=taxonomy, profile=profile, config=config)
        projections = canvas.project(THREAT_BUILDERS["knife"][kind](rng)[:1])
        composite = canvas.image()
        h, w = composite.shape[:2]
        target = out / "images" / "val" / f"{image.stem}.png"  # lossless: the change is what is measured
        cv2.imwrite(str(target), composite[..., ::-1])
        kept = [(p.class_id, *p.box) for p in projections if p.kept]
        write_labels(out / "labels" / "val" / f"{image.stem}.txt", own + boxes_to_labels(kept, w, h))
        written.append(target)
        for p in projections:
            x0, y0, x1, y1 = p.box
            inserted.append(Inserted(target.name, kind, (x0 / w, y0 / h, x1 / w, y1 / h), p.kept, p.reason, round(p.contrast, 4), p.info))
    return written, inserted


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.width, im.height


def inserted_scores(predictions: Path, samples: list, inserted: list[Inserted]) -> list[float]:
    """Each inserted object's highest overlapping firearm score in one rendering (`firearm_confusion.firearm_scores`)."""
    by_path = firearm_confusion.read_predictions(predictions)
    by_stem = {s.image.stem: s for s in samples}
    out = []
    for obj in inserted:
        sample = by_stem[Path(obj.scan).stem]
        w, h = _size(sample.image)
        box = np.array([[obj.box[0] * w, obj.box[1] * h, obj.box[2] * w, obj.box[3] * h]], np.float32)
        out.append(float(firearm_confusion.firearm_scores(by_path[str(sample.image)], box, np.zeros(1, bool))[0]))
    return out


@dataclass
class Row:
    rendering: str
    kind: str  # colour | gray: whose thresholds
    firearm_threshold: float
    firearm_ap50: float | None  # the scans as they are
    firearm_dr_at_far5: float | None
    firearm_ap50_with: float | None  # with the objects in the gun-free scans
    firearm_dr_at_far5_with: float | None
    gun_scores: list[float]  # each real gun's firearm score (the scans as they are)
    real_metal: dict[str, list[float]]  # the scans' own knives, scissors, tools: their highest firearm score
    objects: dict[str, list[float]]  # kind -> each inserted object's highest firearm score
    kept: dict[str, list[bool]]  # kind -> each inserted object passed the label rule
    seconds: float

    def stats(self, scores: list[float]) -> dict[str, float | None]:
        a = np.array(scores, np.float64)
        guns = firearm_confusion.Confusion({"firearm": self.gun_scores, "x": list(scores)})
        if not len(a):
            return {"n": 0, "at_threshold": None, "median": None, "p95": None, "max": None, "outscore": None}
        return {"n": len(a), "at_threshold": float((a >= self.firearm_threshold).mean()), "median": float(np.median(a)),
                "p95": float(np.percentile(a, 95)), "max": float(a.max()), "outscore": guns.outscore(("x",))}


def measure(model: str, *, real: Path, workdir: Path, renderings: list[str], limit: int | None) -> tuple[list[Row], list[Inserted]]:
    from xscreen.training.evaluate import EnginePredictor, evaluate_dataset, load_samples
    from xscreen.vision.engine import Engine
    from xscreen.vision.taxonomy import load_taxonomy

    base = Engine.load(model, models_dir=get_settings().models_dir, providers=["CPUExecutionProvider"])
    originals = gray_stations.validation_images(real, limit)
    started = time.perf_counter()
    composites, inserted = composite_set(originals, workdir / "composite")
    logger.info("%d objects projected into %d gun-free scans (%.0fs)", len(inserted), len({o.scan for o in inserted}), time.perf_counter() - started)
    names = load_taxonomy().names
    rows = []
    for rendering in renderings:
        started = time.perf_counter()
        engine = Engine(session=firearm_confusion.CachedSession(base.session), card=base.card, model_path=base.model_path, variant=base.variant)
        predictor = EnginePredictor(engine, engine.ref, list(base.card.classes))
        reports = {}
        for name, images in (("as-is", originals), ("with", composites)):
            data = gray_stations.render_set(images, rendering, workdir / name, names)
            dataset, set_names, samples = load_samples(data, "val")
            report = evaluate_dataset(predictor, dataset, set_names, samples, gray=False, out_dir=workdir / "eval" / f"{rendering}-{name}")
            reports[name] = (report, samples)
        (plain, plain_samples), (mixed, mixed_samples) = reports["as-is"], reports["with"]
        confusion = firearm_confusion.object_confusion(plain.out_dir / "predictions.jsonl", plain_samples)
        scores = inserted_scores(mixed.out_dir / "predictions.jsonl", mixed_samples, inserted)
        kind = "colour" if rendering == "colour" else "gray"
        m, mw = plain.metrics, mixed.metrics
        row = Row(rendering, kind, base.card.thresholds.for_class("firearm", kind),
                  m["classes"].get("firearm", {}).get("AP50"), m["categories"].get("firearms", {}).get("detection_at_false_alarm_5"),
                  mw["classes"].get("firearm", {}).get("AP50"), mw["categories"].get("firearms", {}).get("detection_at_false_alarm_5"),
                  confusion.by_class.get("firearm", []), {n: v for n, v in confusion.by_class.items() if n != "firearm"},
                  {k: [s for s, o in zip(scores, inserted) if o.kind == k] for k in KINDS},
                  {k: [o.kept for o in inserted if o.kind == k] for k in KINDS}, time.perf_counter() - started)
        logger.info("%s: AP50 %s -> %s, DR@5 %s -> %s; %s (%.0fs, %d network runs)", rendering, row.firearm_ap50, row.firearm_ap50_with,
                    row.firearm_dr_at_far5, row.firearm_dr_at_far5_with,
                    {k: row.stats(v)["at_threshold"] for k, v in row.objects.items()}, row.seconds, engine.session.runs)
        rows.append(row)
    return rows, inserted


_f = gray_stations._f


def write_report(rows: list[Row], inserted: list[Inserted], out: Path, *, model: str, seconds: float, limit: int | None) -> None:
    scans = len({o.scan for o in inserted})
    kept = {k: sum(o.kept for o in inserted if o.kind == k) for k in KINDS}
    counts = {k: sum(o.kind == k for o in inserted) for k in KINDS}
    packs = sum(1 for o in inserted if o.kind == "razor_blade" and o.info.get("count", 1) > 1)
    lines = [
        "# Throwing stars, razor blades and knives projected into real scans (issue 18.4)",
        "",
        f"`bench/metal_tip.py --model {model}` on {gray_stations._machine()} (onnxruntime CPU, shared), {time.strftime('%Y-%m-%d')}, "
        f"{seconds / 60:.1f} min{f', the first and last {limit} scans only' if limit else ''}. The real validation scans (SIXray val and "
        f"OPIXray val, never trained on): into each of the {scans} scans without a firearm one generator object projected as "
        "`datasets/synth/tip.py` does (Beer-Lambert in the dual-energy attenuation domain), kinds in turn: "
        + ", ".join(f"{k} {counts[k]} ({kept[k]} pass the label rule)" for k in KINDS)
        + f"; {packs} of the razor blades are packs of 5-10, the rest single blades (a lone 0.1 mm double-edge blade is often too faint to label). "
        "The scans with a firearm are unchanged. Both sets rendered as `bench/gray_stations.py` does ("
        + (f"a subset of its renderings: {', '.join(r.rendering for r in rows)}" if len(rows) < len(gray_stations.RENDERINGS) else "all its renderings")
        + ") and screened through the stations' path with the card's gray path and operating thresholds.",
        "",
        "Per object: the highest firearm score of a box overlapping it (IoU >= "
        f"{firearm_confusion.OVERLAP_IOU}; 0 when none); `>= thr`: the share at or above the card's firearm threshold for the scan's kind; "
        "P(> gun): the share of (object, real gun of the same rendering) pairs in which the object scores strictly higher as firearm. "
        "All inserted objects are scored, also those below the label rule. `real knives` / `real tools`: the scans' own labelled ones, for comparison.",
        "",
        "## Firearm boxes on the objects",
        "",
        "| rendering | firearm thr | real guns: n, median | " + " | ".join(f"{k}: >= thr, median, p95, max, P(> gun)" for k in KINDS)
        + " | real knives: >= thr, P(> gun) | real tools: >= thr, P(> gun) |",
        "|---|---|---|" + "---|" * (len(KINDS) + 2),
    ]

    def cell(r: Row, scores: list[float], full: bool = True) -> str:
        s = r.stats(scores)
        if not s["n"]:
            return "–"
        if not full:
            return f"{_f(s['at_threshold'], True)}, {_f(s['outscore'], True)}"
        return f"{_f(s['at_threshold'], True)}, {s['median']:.3f}, {s['p95']:.3f}, {s['max']:.3f}, {_f(s['outscore'], True)}"

    for r in rows:
        lines.append(f"| {r.rendering} | {r.firearm_threshold:.4f} | {len(r.gun_scores)}, {np.median(r.gun_scores) if r.gun_scores else 0:.3f} | "
                     + " | ".join(cell(r, r.objects[k]) for k in KINDS)
                     + f" | {cell(r, r.real_metal.get('knife', []), False)} | {cell(r, r.real_metal.get('tool', []), False)} |")
    lines += ["", "## Firearm screening with the objects in the gun-free scans", "",
              "Firearm AP50 and the firearms category's DR at FAR 5% (negatives: the scans without a firearm) on the scans as they are "
              "and with one object in each gun-free scan.", "",
              "| rendering | AP50 as they are | AP50 with objects | DR at FAR 5% as they are | DR at FAR 5% with objects |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.rendering} | {_f(r.firearm_ap50)} | {_f(r.firearm_ap50_with)} | {_f(r.firearm_dr_at_far5, True)} | {_f(r.firearm_dr_at_far5_with, True)} |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    # Scores to 4 decimals and one line per object: the per-object record stays small enough to commit.
    lines_of = lambda items: ",\n".join(json.dumps(_rounded(x.__dict__)) for x in items)  # noqa: E731
    text = '{"rows": [\n' + lines_of(rows) + '\n],\n"inserted": [\n' + lines_of(inserted) + "\n]}\n"
    out.with_suffix(".json").write_text(text)


def _rounded(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, (list, tuple)):
        return [_rounded(x) for x in v]
    return {k: _rounded(x) for k, x in v.items()} if isinstance(v, dict) else v


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gray_stations.add_arguments(parser, real=True, kept="the composites, renderings and evaluations", report="the rows and objects")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xscreen-metal-tip-") as tmp:
        rows, inserted = measure(args.model, real=args.real, workdir=args.workdir or Path(tmp), renderings=args.renderings, limit=args.limit)
    write_report(rows, inserted, args.out, model=args.model, seconds=time.perf_counter() - started, limit=args.limit)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
