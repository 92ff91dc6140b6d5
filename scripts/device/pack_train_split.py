"""Pack data/default small enough to travel to a lent GPU host (64 MiB in all).

    python scripts/device/pack_train_split.py .pack/default 512 52    # max side 512 px, WebP quality 52 (the 64 MiB carry limit)
Writes images/train (every training scan) and images/val (the SIXray validation scans, which ultralytics
validates on once at the end of a run) with their labels, data.yaml, and manifest.jsonl naming the .webp
files, so a config's `mix:` picks sources on the host exactly as it does on data/default.
"""
import json
import shutil
import sys
from pathlib import Path

import cv2

src = Path(__file__).resolve().parents[2] / "data" / "default"; dst = Path(sys.argv[1]); maxside = int(sys.argv[2]); q = int(sys.argv[3])
if dst.exists(): shutil.rmtree(dst)
total = 0; manifest = []
for line in (src / "manifest.jsonl").read_text().splitlines():
    e = json.loads(line)
    if not (e["split"] == "train" or (e["split"] == "val" and e["source"] == "sixray")):
        continue
    img = src / e["file"]; split = e["split"]
    (dst / "images" / split).mkdir(parents=True, exist_ok=True); (dst / "labels" / split).mkdir(parents=True, exist_ok=True)
    a = cv2.imread(str(img), cv2.IMREAD_COLOR)
    h, w = a.shape[:2]; s = maxside / max(h, w)
    if s < 1: a = cv2.resize(a, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out = dst / "images" / split / (img.stem + ".webp")
    cv2.imwrite(str(out), a, [cv2.IMWRITE_WEBP_QUALITY, q]); total += out.stat().st_size
    lab = src / "labels" / split / (img.stem + ".txt")
    if lab.exists(): shutil.copyfile(lab, dst / "labels" / split / lab.name)
    manifest.append({**e, "file": f"images/{split}/{out.name}"})
(dst / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in manifest))
names = (src / "data.yaml").read_text().split("names:")[1]
(dst / "data.yaml").write_text(f"train: images/train\nval: images/val\nnc: 9\nnames:{names}")
print(round(total / 2**20, 1), "MiB", len(manifest), "images")
