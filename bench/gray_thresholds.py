"""Gray stations' operating thresholds, chosen on single-energy renderings our physics did not make, and checked on
others that the choice never saw.

    nice -n 10 .venv/bin/python bench/gray_thresholds.py --model xscreen-yolo11n:7 --data data/calib-v9/data.yaml \
        [--out docs/bench/gray_thresholds-v7.json]

`xscreen calibrate --gray` picks the card's gray thresholds on the project's own physics gray of the validation
scans. A real single-energy scanner draws its gray otherwise, and the same thresholds then alarm on more untouched
parcels than chosen (bench/drugs.py --rendering: 16 % of untouched scans got a `drug_tablets` box at version 5's
gray threshold, against 5 % chosen). This script:
1. draws every scan of `--data` (validation: untouched real scans, plus drug composites so that the drug classes
   have positives) as each of bench/gray_stations.py's renderings, into a temporary folder;
2. for each class, takes the score at which at most `--far` of the scans without it alarm, per rendering, and keeps
   the highest over the `CHOOSE_ON` renderings (so that none of them passes `--far`), `--firearm-far` for
   firearms (gray stations hold a parcel on a firearm);
3. reports the false alarms of those thresholds, and of the card's own, on the `CHECK_ON` renderings (never used
   to choose) and on our physics gray;
4. prints the thresholds as `xscreen models derive --class-conf gray:NAME=SCORE` flags.

The untouched scans are the same validation scans in every rendering: the check holds the drawing out, not the
scans.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from gray_stations import render_set  # bench/gray_stations.py, beside this script

from xscreen.settings import get_settings
from xscreen.training.calibrate import TopScores, threshold_at_far, top_scores
from xscreen.vision.registry import resolve_model
from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.yolo import load_data_yaml

CHOOSE_ON = ("luminance", "hsv-value", "gamma-2.2", "blur-noise")
CHECK_ON = ("random-curve", "log-display", "16-bit-linear", "pitch-0.6", "inverted")
OWN_GRAY = "physics"  # the project's own gray: what `xscreen calibrate --gray` chose on


def far_at(scores: TopScores, name: str, threshold: float) -> float | None:
    negatives = scores.negatives(name, "gray")
    return round(float((negatives >= threshold).mean()), 3) if len(negatives) else None


def choose(per_rendering: dict[str, TopScores], names: list[str], far: dict[str, float]) -> dict[str, float]:
    """Per class, the highest over the renderings of the lowest score with at most far[name] of its negatives alarming."""
    chosen = {}
    for name in names:
        thresholds = [threshold_at_far(s.negatives(name, "gray"), far[name]) for s in per_rendering.values()
                      if len(s.negatives(name, "gray")) and len(s.positives(name, "gray"))]
        if thresholds:
            chosen[name] = max(thresholds)
    return chosen


def measure(model: str, data: Path, *, models_dir: Path, renderings: list[str], workdir: Path) -> dict[str, TopScores]:
    images = load_data_yaml(data).images("val")
    names = load_taxonomy().names
    return {r: top_scores(model, render_set(images, r, workdir, names), models_dir=models_dir) for r in renderings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", type=Path, required=True, help="data.yaml of validation scans (never trained on).")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--far", type=float, default=0.05)
    parser.add_argument("--firearm-far", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    models_dir = args.models_dir or get_settings().models_dir
    card = resolve_model(args.model, models_dir=models_dir).card
    names = list(card.classes)
    far = {n: args.firearm_far if n == "firearm" else args.far for n in names}
    with tempfile.TemporaryDirectory(prefix="gray-thresholds-") as tmp:
        scores = measure(args.model, args.data, models_dir=models_dir, renderings=[*CHOOSE_ON, *CHECK_ON, OWN_GRAY], workdir=Path(tmp))
    chosen = choose({r: scores[r] for r in CHOOSE_ON}, names, far)
    card_gray = {n: float(card.thresholds.for_class(n, kind="gray")) for n in names}
    report = {
        "model": args.model, "data": str(args.data), "far": far, "choose_on": list(CHOOSE_ON), "check_on": list(CHECK_ON),
        "classes": {n: {
            "card_threshold": card_gray[n], "chosen_threshold": round(chosen[n], 4) if n in chosen else None,
            "far_at_card": {r: far_at(s, n, card_gray[n]) for r, s in scores.items()},
            "far_at_chosen": {r: far_at(s, n, chosen[n]) for r, s in scores.items()} if n in chosen else None,
            "threshold_far1": {r: round(threshold_at_far(s.negatives(n, "gray"), 0.01), 4) for r, s in scores.items() if len(s.negatives(n, "gray"))},
        } for n in names},
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    for n, c in report["classes"].items():
        print(f"{n}: card {c['card_threshold']:.4f} -> chosen {c['chosen_threshold']}")
        print("   false alarms at card / chosen: " + "  ".join(
            f"{r} {c['far_at_card'][r]}/{(c['far_at_chosen'] or {}).get(r)}" for r in scores))
    # `models derive --class-conf` replaces every per-class threshold: pass the card's colour ones beside these
    print("gray flags: " + " ".join(f"--class-conf gray:{n}={t:.4f}" for n, t in chosen.items()))


if __name__ == "__main__":
    main()
