"""Write configs/display/gray-reference.yaml: the training scans' gray display (air level, object quantiles).

    python scripts/gray_reference.py --real data/real [--count 400] [--seed 0]

The physics gray (`convert.colour_to_gray`) of real *training* scans (SIXray and OPIXray train lists of an
`xscreen data build --config configs/data/real.yaml` output): what the model saw when trained on gray. The
mean of the scans' quantile functions is their 1-D Wasserstein barycentre, a display no single scan has.
Validation scans are never read, so the gray station benchmark stays untouched.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import yaml

from xscreen.vision.io import read_scan
from xscreen.vision.xray.gray_display import REFERENCE_FILE, air_threshold
from xscreen.vision.yolo import list_file_images

QUANTILES = 65


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REFERENCE_FILE)
    args = parser.parse_args()
    files = list_file_images(args.real / "train-sixray.txt") + list_file_images(args.real / "train-opixray.txt")
    files = random.Random(args.seed).sample(files, min(args.count, len(files)))
    levels = np.linspace(0.0, 1.0, QUANTILES)
    air_levels, curves = [], []
    for path in files:
        gray = read_scan(path.read_bytes(), filename=path.name).display_gray()
        air = air_threshold(gray)
        if air < 256:
            air_levels.append(float(np.median(gray[gray >= air])))
        curves.append(np.quantile(gray[gray < air], levels))
    mean = np.maximum.accumulate(np.mean(curves, axis=0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        f"# Written by scripts/gray_reference.py from {len(files)} real training scans (SIXray + OPIXray train, seed {args.seed}):\n"
        "# the median air level and the mean quantile function of the object (non-air) pixels of their physics gray\n"
        "# display (vision/xray/gray_display.py).\n"
        + yaml.safe_dump({"scans": len(files), "air_level": round(float(np.median(air_levels)), 2),
                          "object_quantiles": [round(float(v), 2) for v in mean]}, default_flow_style=None, width=100)
    )
    print(f"{args.out}: {QUANTILES} quantiles from {len(files)} scans")


if __name__ == "__main__":
    main()
