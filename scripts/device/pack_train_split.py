"""Pack data/default's train split small enough to travel to a lent GPU host (64 MiB in all).

    python scripts/device/pack_train_split.py .pack/default 512 75    # max side 512 px, WebP quality 75
Writes images/ + labels/ (train only), data.yaml (all sources), data-real.yaml (SIXray + OPIXray only, for
the plain reference) and a small val list (ultralytics validates once at the end of a run).
"""
import shutil, sys
from pathlib import Path
import cv2
src = Path(__file__).resolve().parents[2] / "data" / "default"; dst = Path(sys.argv[1]); maxside = int(sys.argv[2]); q = int(sys.argv[3]); limit = int(sys.argv[4]) if len(sys.argv) > 4 else 10**9
if dst.exists(): shutil.rmtree(dst)
(dst / "images/train").mkdir(parents=True); (dst / "labels/train").mkdir(parents=True)
total = 0; real = []; allimgs = []
for n, img in enumerate(sorted(p for p in (src / "images/train").iterdir() if p.suffix == ".jpg")):
    if n % max(1, 3122 // limit): continue
    a = cv2.imread(str(img), cv2.IMREAD_COLOR)
    h, w = a.shape[:2]; s = maxside / max(h, w)
    if s < 1: a = cv2.resize(a, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    out = dst / "images/train" / (img.stem + ".webp")
    cv2.imwrite(str(out), a, [cv2.IMWRITE_WEBP_QUALITY, q]); total += out.stat().st_size
    lab = src / "labels/train" / (img.stem + ".txt")
    if lab.exists(): shutil.copyfile(lab, dst / "labels/train" / lab.name)
    rel = f"./images/train/{out.name}"; allimgs.append(rel)
    if img.stem.startswith(("sixray_", "opixray_")): real.append(rel)
(dst / "train-real.txt").write_text("\n".join(real) + "\n")
(dst / "val-small.txt").write_text("\n".join(allimgs[::15]) + "\n")
names = (src / "data.yaml").read_text().split("names:")[1]
for fname, train in [("data.yaml", "images/train"), ("data-real.yaml", "train-real.txt")]:
    (dst / fname).write_text(f"train: {train}\nval: val-small.txt\nnc: 9\nnames:{names}")
print(round(total / 2**20, 1), "MiB", len(allimgs), "images", len(real), "real")
