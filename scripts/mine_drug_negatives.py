"""Real training scans on which a model fires drug boxes: the hard negatives a drug fine-tune should see more often.

    python scripts/mine_drug_negatives.py --model default --lists data/real/train-sixray.txt data/real/train-opixray.txt \
        --top 250 --out data/drugtip/hard-negatives.txt

Version 5's drug detection rate at 5 % false alarms is limited by the false alarms, not by what it sees: 44 % of the
large held-out packages get a box at IoU >= 0.5 at some score, 26 % above the score that 5 % of untouched real scans
reach (docs/drugs.md, section 10). Its drug scores on the real training scans are distributed like those on the
validation scans (95th percentile 0.15-0.19 against 0.18), so the training has not yet learnt them as negatives.
Every listed scan goes through the one screening path (`vision.screening`, as `xscreen predict` does); the `--top`
scans with the highest drug score (any class of the drugs category) are written one path a line, highest first, for
`scripts/drug_training_set.py --hard-negatives`. Only training scans: the validation scans that set the
false-alarm threshold in `bench/drugs.py` are never mined.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from xscreen.settings import get_settings
from xscreen.vision.engine import Engine
from xscreen.vision.screening import read_scan_file, screen
from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.yolo import list_file_images


def drug_scores(engine: Engine, paths: list[Path], batch: int = 8) -> list[float]:
    """The highest score of a class in the taxonomy's drugs category (0 if none) of each scan."""
    ids = [c.id for c in load_taxonomy().in_category("drugs")]
    out = []
    for k in range(0, len(paths), batch):
        for result in screen(engine, [read_scan_file(p) for p in paths[k : k + batch]]):
            if result.error is not None:
                raise result.error
            det = result.detections
            mask = np.isin(det.class_ids, ids)
            out.append(float(det.scores[mask].max()) if mask.any() else 0.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--lists", type=Path, nargs="+", required=True, help="Image lists of real training scans (data/real/train-*.txt).")
    parser.add_argument("--top", type=int, default=250)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    engine = Engine.load(args.model, models_dir=args.models_dir or get_settings().models_dir).with_thresholds(0.001)
    paths = [p for listing in args.lists for p in list_file_images(listing)]
    ranked = sorted(zip(drug_scores(engine, paths), paths), key=lambda sp: -sp[0])[: args.top]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(f"{p.resolve()}\n" for _, p in ranked))
    print(f"{len(ranked)} of {len(paths)} scans, drug scores {ranked[0][0]:.3f} to {ranked[-1][0]:.3f}: {args.out}")


if __name__ == "__main__":
    main()
