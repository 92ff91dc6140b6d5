"""Firearms against other metal threats (issue 18.4): the confusion by class on gray renderings, and decoding rules that reduce it.

    nice -n 10 .venv/bin/python bench/firearm_confusion.py --real data/real --out docs/bench/firearm_confusion.md

1. The real validation scans (`configs/data/real.yaml`'s build, `--real`: SIXray val 267 and OPIXray val 101,
   never trained on), rendered by `bench/gray_stations.py`'s renderings (same methods, same seeds), into a
   temporary folder.
2. Each rendering screened through the stations' path (`training.evaluate` -> `vision.screening` -> `Engine`)
   with the card of `--model` and, in turn, each candidate `postprocess.confusable` rule (`CANDIDATES`). The
   ONNX session's outputs are remembered per input blob, so the network runs once per rendering and the
   candidates, which change decoding only, cost a decode each.
3. Reports, per rendering and candidate: firearm AP50, the firearms category's DR at FAR 5%, firearm boxes on
   true metal objects at the operating thresholds (`gray_stations.firearm_on_metal`), and the confusion by
   class: for each true knife, scissors and tool, the highest firearm score of a box overlapping it (IoU >=
   `OVERLAP_IOU`; not a box that finds a real gun lying across it), against the firearm score each true
   firearm gets. `P(metal > gun)`: the share of (metal
   object, true firearm) pairs in which the metal object has the strictly higher firearm score, i.e. how
   often a blade or tool outscores a real gun as `firearm`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gray_stations
import numpy as np

from xscreen.settings import get_settings
from xscreen.vision.registry import ConfusableSpec, PostprocessSpec

logger = logging.getLogger("bench.firearm_confusion")
METAL = gray_stations.METAL  # what must not read as a firearm
OVERLAP_IOU = 0.3  # a firearm box on part of a blade is still a firearm alarm on it


def _rule(**kw: Any) -> list[ConfusableSpec]:
    return [ConfusableSpec(target="firearm", rivals=list(METAL), **kw)]


CANDIDATES: dict[str, list[ConfusableSpec]] = {
    "none": [],
    "suppress-0.3": _rule(suppress_iou=0.3),
    "suppress-0.5": _rule(suppress_iou=0.5),
    "suppress-0.7": _rule(suppress_iou=0.7),
    "suppress-0.3-ratio-0.8": _rule(suppress_iou=0.3, suppress_ratio=0.8),
    "suppress-0.5-ratio-0.8": _rule(suppress_iou=0.5, suppress_ratio=0.8),
    "suppress-0.3-ratio-0.5": _rule(suppress_iou=0.3, suppress_ratio=0.5),
    "margin-0.05": _rule(margin=0.05),
    "margin-0.1": _rule(margin=0.1),
    "discount": _rule(discount=True),
}


class CachedSession:
    """An onnxruntime session that remembers its outputs per input blob (decoding candidates share one run)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.cache: dict[bytes, Any] = {}
        self.runs = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> Any:
        key = hashlib.blake2b(b"".join(str(v.shape).encode() + v.tobytes() for v in feeds.values()), digest_size=16).digest()
        if key not in self.cache:
            self.runs += 1
            self.cache[key] = self.session.run(names, feeds)
        return self.cache[key]


@dataclass
class Confusion:
    """Highest overlapping firearm score per true object, by true class."""

    by_class: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, score: float) -> None:
        self.by_class.setdefault(name, []).append(score)

    def outscore(self, names: tuple[str, ...] = METAL) -> float | None:
        """P(a metal object's firearm score > a true firearm's), strictly: a missed gun (0) and a metal object
        without a firearm box (0) are not a confusion."""
        metal = np.array([s for n in names for s in self.by_class.get(n, [])])
        guns = np.sort(np.array(self.by_class.get("firearm", [])))
        if not len(metal) or not len(guns):
            return None
        return float(np.searchsorted(guns, metal, side="left").sum() / (len(metal) * len(guns)))


def read_predictions(predictions: Path) -> dict[str, list[dict]]:
    """evaluate's predictions.jsonl: image path -> its detections (every box down to the scoring floor)."""
    return {row["path"]: row["detections"] for row in map(json.loads, predictions.read_text().splitlines())}


def firearm_scores(detections: list[dict], boxes: np.ndarray, true_gun: np.ndarray) -> np.ndarray:
    """Per true box (xyxy pixels), the highest firearm score of a box overlapping it (IoU >= OVERLAP_IOU; 0 when
    none). For a box that is not a gun, a firearm box that finds a real gun (IoU >= 0.5, AP's match) lying across
    it does not count: that is no confusion of the wrench under the gun."""
    from xscreen.training.metrics import box_iou

    guns = [d for d in detections if d["class_name"] == "firearm"]
    found = np.array([d["box"] for d in guns], np.float32).reshape(-1, 4)
    scores = np.array([d["score"] for d in guns], np.float32)
    iou = box_iou(np.asarray(boxes, np.float32).reshape(-1, 4), found)
    finds_gun = (iou[true_gun] >= 0.5).any(axis=0) if true_gun.any() else np.zeros(len(guns), bool)
    out = np.zeros(len(true_gun), np.float64)
    for j in range(len(true_gun)):
        hit = iou[j] >= OVERLAP_IOU if iou.shape[1] else np.zeros(0, bool)
        if not true_gun[j]:
            hit &= ~finds_gun
        out[j] = float(scores[hit].max()) if hit.any() else 0.0
    return out


def object_confusion(predictions: Path, samples: list[Any]) -> Confusion:
    """From evaluate's predictions.jsonl (every box down to the scoring floor) and the ground truth."""
    by_path = read_predictions(predictions)
    out = Confusion()
    for s in samples:
        scores = firearm_scores(by_path[str(s.image)], s.boxes, np.array([n == "firearm" for n in s.class_names], bool))
        for name, score in zip(s.class_names, scores):
            if name == "firearm" or name in METAL:
                out.add(name, float(score))
    return out


@dataclass
class Row:
    rendering: str
    candidate: str
    firearm_ap50: float | None
    firearm_dr_at_far5: float | None
    firearm_on_metal: float | None
    outscore: float | None
    per_class: dict[str, dict[str, float]]  # class -> n, share at or above the operating firearm threshold, median, p95, max
    firearm_threshold: float
    seconds: float
    scores: dict[str, list[float]]  # class -> each true object's highest overlapping firearm score

    def metal_at_threshold(self) -> float:
        """Share of the true metal objects with a firearm box at or above the operating threshold on them."""
        metal = np.array([s for n in METAL for s in self.scores.get(n, [])])
        return float((metal >= self.firearm_threshold).mean()) if len(metal) else 0.0


def _stats(scores: list[float], threshold: float) -> dict[str, float]:
    a = np.array(scores, np.float64)
    return {"n": len(a), "at_threshold": float((a >= threshold).mean()), "median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "max": float(a.max())}


def measure(model: str, *, real: Path, workdir: Path, renderings: list[str], candidates: list[str], limit: int | None) -> list[Row]:
    from xscreen.training.evaluate import EnginePredictor, evaluate_dataset, load_samples
    from xscreen.vision.engine import Engine
    from xscreen.vision.taxonomy import load_taxonomy

    base = Engine.load(model, models_dir=get_settings().models_dir, providers=["CPUExecutionProvider"])
    images = gray_stations.validation_images(real, limit)
    names = load_taxonomy().names
    rows = []
    for rendering in renderings:
        data = gray_stations.render_set(images, rendering, workdir / "renderings", names)
        dataset, set_names, samples = load_samples(data, "val")
        session = CachedSession(base.session)
        kind = "colour" if rendering == "colour" else "gray"
        threshold = base.card.thresholds.for_class("firearm", kind)
        for candidate in candidates:
            card = base.card.model_copy(update={"postprocess": PostprocessSpec(confusable=CANDIDATES[candidate])})
            engine = Engine(session=session, card=card, model_path=base.model_path, variant=base.variant)
            started = time.perf_counter()
            report = evaluate_dataset(EnginePredictor(engine, engine.ref, list(card.classes)), dataset, set_names, samples,
                                      gray=False, out_dir=workdir / "eval" / f"{rendering}-{candidate}")
            m = report.metrics
            confusion = object_confusion(report.out_dir / "predictions.jsonl", samples)
            row = Row(rendering, candidate, m["classes"].get("firearm", {}).get("AP50"),
                      m["categories"].get("firearms", {}).get("detection_at_false_alarm_5"), gray_stations.firearm_on_metal(m),
                      confusion.outscore(), {n: _stats(v, threshold) for n, v in confusion.by_class.items()}, threshold,
                      time.perf_counter() - started, confusion.by_class)
            logger.info("%s %s: AP50 %s DR@5 %s on-metal %s P(metal>gun) %s (%.0fs, %d network runs)", rendering, candidate,
                        row.firearm_ap50, row.firearm_dr_at_far5, row.firearm_on_metal, row.outscore, row.seconds, session.runs)
            rows.append(row)
    return rows


_f = gray_stations._f  # the same number formats as its report


def write_report(rows: list[Row], out: Path, *, model: str, seconds: float) -> None:
    lines = [
        "# Firearms against other metal threats (issue 18.4)",
        "",
        f"`bench/firearm_confusion.py --model {model}` on {gray_stations._machine()} (onnxruntime CPU), {time.strftime('%Y-%m-%d')}, "
        f"{seconds / 60:.1f} min. The real validation scans (SIXray val and OPIXray val, never trained on), rendered as in "
        "`bench/gray_stations.py`, screened through the stations' path with the card's own gray path and thresholds.",
        "",
        "Throwing stars and razor blades (none in these scans) are measured by projecting the generator's into them: "
        "`docs/bench/metal_tip.md` (`bench/metal_tip.py`).",
        "",
        "## The confusion by class (no rule)",
        "",
        f"For each true object, the highest firearm score of a box overlapping it (IoU >= {OVERLAP_IOU}; 0 when none). "
        "`>= thr`: the share at or above the card's firearm operating threshold for the scan's kind. "
        "P(metal > gun): the share of (metal object, true firearm) pairs in which the metal object scores strictly higher as firearm.",
        "",
        "| rendering | firearm thr | true firearms: n, median | knife: n, >= thr, p95, max | scissors: n, >= thr, p95, max | tool: n, >= thr, p95, max | P(metal > gun) |",
        "|---|---|---|---|---|---|---|",
    ]

    def cell(r: Row, name: str) -> str:
        s = r.per_class.get(name)
        return "–" if s is None else f"{s['n']}, {_f(s['at_threshold'], True)}, {s['p95']:.3f}, {s['max']:.3f}"

    for r in (r for r in rows if r.candidate == "none"):
        guns = r.per_class.get("firearm")
        gun_cell = "–" if guns is None else f"{guns['n']}, {guns['median']:.3f}"
        lines.append(f"| {r.rendering} | {r.firearm_threshold:.4f} | {gun_cell} | "
                     f"{cell(r, 'knife')} | {cell(r, 'scissors')} | {cell(r, 'tool')} | {_f(r.outscore, True)} |")
    lines += ["", "## Candidate rules", "",
              "`postprocess.confusable` with target firearm, rivals knife, scissors, tool. Firearm on metal: firearm boxes at the operating "
              "thresholds on true knives, scissors and tools, per object (evaluate's confusion: IoU >= 0.5, one box per object). "
              f"Metal >= thr: the same objects with a firearm box at or above the threshold overlapping them (IoU >= {OVERLAP_IOU}).", "",
              "| candidate | colour AP50 | colour DR at FAR 5% | physics AP50 | mean AP50, 9 gray | mean DR at FAR 5%, 9 gray | mean firearm on metal, 9 gray | mean metal >= thr, 9 gray | mean P(metal > gun), 9 gray |",
              "|---|---|---|---|---|---|---|---|---|"]
    for candidate in dict.fromkeys(r.candidate for r in rows):
        sel = {r.rendering: r for r in rows if r.candidate == candidate}
        others = [r for name, r in sel.items() if name not in ("colour", "physics")]
        mean = lambda key: float(np.mean([getattr(r, key) or 0.0 for r in others])) if others else None  # noqa: E731
        colour, physics = sel.get("colour"), sel.get("physics")
        lines.append(f"| {candidate} | {_f(colour and colour.firearm_ap50)} | {_f(colour and colour.firearm_dr_at_far5, True)} | "
                     f"{_f(physics and physics.firearm_ap50)} | {_f(mean('firearm_ap50'))} | {_f(mean('firearm_dr_at_far5'), True)} | "
                     f"{_f(mean('firearm_on_metal'), True)} | {_f(float(np.mean([r.metal_at_threshold() for r in others])) if others else None, True)} | "
                     f"{_f(mean('outscore'), True)} |")
    lines += ["", "Per rendering (AP50 / DR at FAR 5% / firearm on metal / P(metal > gun)):", "",
              "| rendering | " + " | ".join(dict.fromkeys(r.candidate for r in rows)) + " |",
              "|---|" + "---|" * len(dict.fromkeys(r.candidate for r in rows))]
    for rendering in dict.fromkeys(r.rendering for r in rows):
        cells = [f"{_f(r.firearm_ap50)} / {_f(r.firearm_dr_at_far5, True)} / {_f(r.firearm_on_metal, True)} / {_f(r.outscore, True)}"
                 for r in rows if r.rendering == rendering]
        lines.append(f"| {rendering} | " + " | ".join(cells) + " |")
    gray_stations.save_report(out, lines, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    gray_stations.add_arguments(parser, real=True, kept="the renderings and evaluations")
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES), choices=list(CANDIDATES))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xscreen-confusion-") as tmp:
        rows = measure(args.model, real=args.real, workdir=args.workdir or Path(tmp), renderings=args.renderings, candidates=args.candidates, limit=args.limit)
    write_report(rows, args.out, model=args.model, seconds=time.perf_counter() - started)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
