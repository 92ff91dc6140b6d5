"""Write the drug fine-tune's data.yaml: real SIXray and OPIXray training scans plus drug composites.

    python scripts/drug_training_set.py --real data/real --drugs data/drugtip/train --out data/drugtip/ft \
        [--opixray 300] [--drug-count 2200] [--synth DIR --synth-count 700] [--hard-negatives FILE --hard-repeat 2] [--seed 0]

The real scans keep the firearm and knife knowledge the fine-tune starts from; OPIXray is subsampled and the
composites capped so an epoch fits a CPU budget. `--synth` adds synthetic scenes (`xscreen synth`), so the classes
learnt only from them (gun parts, magazines, ammunition) are not forgotten and mail clutter is seen unlabelled. Validation is the real SIXray val split (firearms), as
for the shipped model; drug figures come from `bench/drugs.py` on composites never trained on.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from xscreen.vision.taxonomy import load_taxonomy
from xscreen.vision.yolo import find_images, list_file_images, write_data_yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--drugs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--opixray", type=int, default=300)
    parser.add_argument("--drug-count", type=int, default=2200)
    parser.add_argument("--synth", type=Path, help="An `xscreen synth` output folder (its train split is used).")
    parser.add_argument("--synth-count", type=int, default=700)
    parser.add_argument("--hard-negatives", type=Path, help="Real training scans to repeat (scripts/mine_drug_negatives.py).")
    parser.add_argument("--hard-repeat", type=int, default=2, help="Extra copies of each hard negative in an epoch.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sixray = list_file_images(args.real / "train-sixray.txt")
    opixray = list_file_images(args.real / "train-opixray.txt")
    drugs = sorted(find_images(args.drugs / "images" / "train"))
    synth = sorted(find_images(args.synth / "images" / "train")) if args.synth else []
    synth = rng.sample(synth, min(args.synth_count, len(synth)))
    files = sixray + rng.sample(opixray, min(args.opixray, len(opixray))) + rng.sample(drugs, min(args.drug_count, len(drugs))) + synth
    hard = list_file_images(args.hard_negatives) if args.hard_negatives else []
    files += hard * args.hard_repeat
    rng.shuffle(files)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train.txt").write_text("".join(f"{p.resolve()}\n" for p in files))
    write_data_yaml(args.out / "data.yaml", names=load_taxonomy().names,
                    splits={"train": str((args.out / "train.txt").resolve()), "val": str((args.real / "val-sixray.txt").resolve())})
    print(f"{len(files)} training scans ({len(sixray)} SIXray, {min(args.opixray, len(opixray))} OPIXray, {min(args.drug_count, len(drugs))} drug composites, {len(synth)} synthetic scenes, "
          f"{len(hard)} hard negatives {args.hard_repeat} more times): {args.out / 'data.yaml'}")


if __name__ == "__main__":
    main()
