"""Why the X-ray recipe of version 2 learnt no drugs: the physics and the numbers of its drug labels.

    python bench/drug_diagnosis.py --real data/real [--n 150] [--out docs/bench/drug-diagnosis.json]

Over real training backgrounds (the build's train split) it measures, for version 2's drug builders
(`threats.drug_bulk/drug_tablets`, projected as its TIP did) and for the drug programme's train family
(`drugs.drug_item`):
- where TIP put items: the share of each scan the old "scanned item" rule (a_H > 0.05) took for the item
  (a display's white inverts to about 0.08, so it took the empty belt too) against the current rule;
- each item's own contrast (mean a_H over its footprint), its display change (0-255 levels) and the share
  kept by the label rule;
- its box side at the model's 512-px input, against the 8-px stride of the finest detection head.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from xscreen.datasets.synth import threats
from xscreen.datasets.synth.config import SynthConfig
from xscreen.datasets.synth.drugs import drug_item
from xscreen.datasets.synth.tip import _OBJECT_ATTENUATION, ProjectionCanvas, _scanned_item
from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.xray.convert import attenuations_from_colour
from xscreen.vision.xray.profiles import load_profile
from xscreen.vision.yolo import find_images

IMGSZ = 512


def _summary(rows: list[dict]) -> dict:
    def q(key, sel):
        v = np.array([r[key] for r in sel])
        return [round(float(x), 3) for x in np.percentile(v, [10, 50, 90])] if len(v) else None

    out = {}
    for form in sorted({r["form"] for r in rows}) + ["all"]:
        sel = rows if form == "all" else [r for r in rows if r["form"] == form]
        kept = [r for r in sel if r["kept"]]
        out[form] = {"n": len(sel), "kept": round(len(kept) / max(len(sel), 1), 3), "contrast_p10_50_90": q("contrast", sel),
                     "display_delta_p10_50_90": q("display_delta", sel), "box_side_at_512_p10_50_90": q("side512", kept),
                     "below_stride_8": round(float(np.mean([r["side512"] < 8 for r in kept])), 3) if kept else None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    taxonomy, profile, config = load_taxonomy(), load_profile(None), SynthConfig()
    scans = sorted(find_images(args.real / "images" / "train"))
    rng0 = np.random.default_rng(0)
    scans = [scans[i] for i in rng0.choice(len(scans), size=min(args.n, len(scans)), replace=False)]
    old_rows: list[dict] = []
    new_rows: list[dict] = []
    item_share_old, item_share_new = [], []
    for k, path in enumerate(scans):
        real = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        scale = IMGSZ / max(real.shape[:2])
        _, a_high = attenuations_from_colour(real, profile)
        item_share_old.append(float((a_high > _OBJECT_ATTENUATION).mean()))
        item_share_new.append(float(_scanned_item(a_high).mean()))
        for family, rows in (("v2", old_rows), ("train", new_rows)):
            rng = np.random.default_rng([k, 0 if family == "v2" else 1])
            canvas = ProjectionCanvas(real, rng=rng, taxonomy=taxonomy, profile=profile, config=config,
                                      item_extent_mm=(500.0, 900.0) if family == "v2" else (300.0, 900.0))
            for _ in range(2):
                if family == "v2":
                    objs = threats.drug_bulk(rng) if rng.random() < 0.58 else threats.drug_tablets(rng)
                    groups = [[objs[int(rng.integers(0, len(objs)))]]]  # v2's TIP projected one object of a group
                else:
                    groups = [drug_item(rng, "train").objects]
                for objs in groups:
                    for p in canvas.project(objs):
                        rows.append({"form": str(p.info.get("form")), "kept": p.kept, "contrast": p.contrast, "display_delta": p.display_delta,
                                     "side512": min(p.box[2] - p.box[0], p.box[3] - p.box[1]) * scale})
    report = {
        "backgrounds": len(scans),
        "item_share_old_rule": round(float(np.mean(item_share_old)), 3),
        "item_share_current_rule": round(float(np.mean(item_share_new)), 3),
        "v2_builders": _summary(old_rows),
        "train_family": _summary(new_rows),
    }
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
