"""Pack the real scans that drug composites are projected into, small enough to travel to a lent GPU host.

    python scripts/device/pack_backgrounds.py data/real .pack/real 640 60 300 && tar -cf .pack/real.tar -C .pack real && rm -r .pack/real

Writes the training split (SIXray and OPIXray) and the SIXray validation split of an `xscreen data build`
output as WebP (long side at most MAXSIDE px, quality Q) with their labels, its data.yaml, and the split
lists (train-sixray.txt, train-opixray.txt, val-sixray.txt) naming the .webp files; OPIXRAY, if given, keeps
only every k-th OPIXray training scan so about that many travel (the fine-tune draws 200-300 of them), so `xscreen synth-drugs`
and `scripts/drug_training_set.py` run on the host as they do here. The composites themselves are written as
JPEG on the host, so the WebP marks lie under the projected items as under the rest of the scan.
"""

import shutil
import sys
from pathlib import Path

import cv2

src, dst, maxside, quality = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
opixray = int(sys.argv[5]) if len(sys.argv) > 5 else None
if dst.exists():
    shutil.rmtree(dst)
total = 0
for listing in ("train-sixray.txt", "train-opixray.txt", "val-sixray.txt"):
    out_lines = []
    lines = (src / listing).read_text().splitlines()
    if opixray and "opixray" in listing:
        lines = lines[:: max(1, len(lines) // opixray)]
    for line in lines:
        image = src / line.strip()
        split = image.parent.name
        a = cv2.imread(str(image), cv2.IMREAD_COLOR)
        h, w = a.shape[:2]
        s = maxside / max(h, w)
        if s < 1:
            a = cv2.resize(a, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        for sub in ("images", "labels"):
            (dst / sub / split).mkdir(parents=True, exist_ok=True)
        out = dst / "images" / split / f"{image.stem}.webp"
        cv2.imwrite(str(out), a, [cv2.IMWRITE_WEBP_QUALITY, quality])
        total += out.stat().st_size
        label = src / "labels" / split / f"{image.stem}.txt"
        if label.exists():  # YOLO labels are normalised: a smaller image keeps them
            shutil.copyfile(label, dst / "labels" / split / label.name)
        out_lines.append(f"./images/{split}/{out.name}\n")
    (dst / listing).write_text("".join(out_lines))
shutil.copyfile(src / "data.yaml", dst / "data.yaml")
print(round(total / 2**20, 1), "MiB", sum(1 for _ in (dst / "images").rglob("*.webp")), "scans")
