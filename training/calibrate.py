"""Choose a model's operating thresholds on validation scans, per class and per scan kind.

`xscreen calibrate --model REF --data val.yaml [--gray] [--far 0.05]` runs the model as stations do (the
evaluate predictor: same decoder, kind detection and conversions), then for each scan kind in the data, from
that kind's scans alone, and each class picks the lowest score at which at most `far` of the scans holding no
instance of that class would alarm on it. The result is
printed as `xscreen export --class-conf` flags, keyed by scan kind (`gray:firearm=0.31`), because a gray
station must not run at thresholds chosen on colour scans (issue 18). Choose on a validation split and report
on scans the choice never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xscreen.errors import ConfigError
from xscreen.training.evaluate import EnginePredictor, load_predictor, load_samples, read_dataset_scan
from xscreen.vision.taxonomy import load_taxonomy

MIN_THRESHOLD = 0.05  # below this a threshold sits in the noise of a handful of negatives


@dataclass(frozen=True)
class ClassThreshold:
    name: str
    kind: str
    threshold: float | None  # None: the data holds no scan without the class, or none with it
    negatives: int  # scans without the class: the false-alarm population
    positives: int  # scans with it
    false_alarm_rate: float | None  # at `threshold`, on the negatives
    detection_rate: float | None  # scans with the class that alarm on it at `threshold` (any box of the class)

    @property
    def flag(self) -> str | None:
        """This threshold as an `xscreen export --class-conf` value."""
        return None if self.threshold is None else f"{self.kind}:{self.name}={self.threshold:.4f}"


def threshold_at_far(negative_scores: np.ndarray, far: float, *, floor: float = MIN_THRESHOLD) -> float:
    """The lowest threshold t >= `floor` with at most `far` of the negatives scoring >= t (each scan's top score)."""
    allowed = int(np.floor(far * len(negative_scores) + 1e-9))
    ranked = np.sort(negative_scores)[::-1]
    if allowed >= len(ranked):
        return floor
    # Just above the first negative that must not alarm: the engine keeps scores > t, metrics count >= t.
    return max(float(np.nextafter(np.float32(ranked[allowed]), np.float32(1.0))), floor)


@dataclass(frozen=True)
class TopScores:
    """Each scan's top score per class, whether it holds the class, and its kind: all a threshold is chosen from."""
    kinds: np.ndarray  # (n,) scan kind
    top: dict[str, np.ndarray]  # class -> (n,) highest score of a box of the class, 0 where none
    present: dict[str, np.ndarray]  # class -> (n,) the scan's labels hold the class

    def negatives(self, name: str, kind: str) -> np.ndarray:
        """Top scores of the class on the scans of `kind` that do not hold it: the false-alarm population."""
        of_kind = self.kinds == kind
        return self.top[name][of_kind & ~self.present[name]]

    def positives(self, name: str, kind: str) -> np.ndarray:
        return self.top[name][(self.kinds == kind) & self.present[name]]


def top_scores(model: str, data: Path, *, models_dir: Path, gray: bool = False, split: str = "val", batch: int = 8) -> TopScores:
    """Run the model on `data`'s `split` as stations do (its gray view with `gray`) and keep each scan's top scores."""
    taxonomy = load_taxonomy()
    predictor = load_predictor(model, models_dir=models_dir, imgsz=None)
    if not isinstance(predictor, EnginePredictor):  # it scores down to SCORE_FLOOR, below any MIN_THRESHOLD
        raise ConfigError("calibrate needs a registry model or an .onnx file: thresholds are stored in its card")
    _, _, samples = load_samples(data, split)
    if not samples:
        raise ConfigError(f"{data} has no {split!r} scans")
    top: dict[str, list[float]] = {n: [] for n in predictor.class_names}
    present: dict[str, list[bool]] = {n: [] for n in predictor.class_names}
    kinds: list[str] = []
    for start in range(0, len(samples), batch):
        chunk = samples[start : start + batch]
        scans = [read_dataset_scan(s.image, gray=gray) for s in chunk]
        kinds += [scan.kind for scan in scans]
        for sample, det in zip(chunk, predictor.predict(scans)):
            for name in predictor.class_names:
                sel = det.class_ids == taxonomy.id_of(name)
                top[name].append(float(det.scores[sel].max()) if sel.any() else 0.0)
                present[name].append(name in sample.class_names)
    return TopScores(np.array(kinds), {n: np.array(v) for n, v in top.items()}, {n: np.array(v, bool) for n, v in present.items()})


def calibrate(
    model: str, data: Path, *, models_dir: Path, far: float = 0.05, gray: bool = False, split: str = "val", batch: int = 8,
    floor: float = MIN_THRESHOLD,
) -> list[ClassThreshold]:
    """Per-class thresholds at `far` image-level false alarms on `data`'s `split` (its gray view with `gray`)."""
    if not 0.0 < far < 1.0:
        raise ConfigError(f"the false-alarm rate must lie between 0 and 1, got {far}")
    scores = top_scores(model, data, models_dir=models_dir, gray=gray, split=split, batch=batch)
    out = []
    for kind in sorted(set(scores.kinds)):  # each kind's thresholds from its own scans: a mixed set gives one row per kind
        for name in scores.top:
            negatives, positives = scores.negatives(name, kind), scores.positives(name, kind)
            if not len(negatives) or not len(positives):
                out.append(ClassThreshold(name, kind, None, len(negatives), len(positives), None, None))
                continue
            t = threshold_at_far(negatives, far, floor=floor)
            out.append(ClassThreshold(
                name, kind, t, len(negatives), len(positives),
                float((negatives >= t).mean()), float((positives >= t).mean()),
            ))
    return out
