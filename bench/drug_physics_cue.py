"""Issue 15's physics cue, measured beside the learned detector: can the material map alone find drug packages?

    python bench/drug_physics_cue.py candidates --composites data/drugtip/val-train [--n 60]
    python bench/drug_physics_cue.py train --composites data/drugtip/train --negatives data/real/images/train \
        --minutes 25 --out runs/drug-cue/fcn.pt
    python bench/drug_physics_cue.py evaluate --weights runs/drug-cue/fcn.pt --composites data/drugtip/val-heldout \
        --negatives data/real/images/val [--out docs/bench/drug-cue-heldout.json]

Every scan goes through the stations' decoder and the card's conversion to the model's input
(`Engine.model_image`); the material map is that image traced back through the display (`material_from_colour`:
a_H, the high-energy attenuation, and the material class z). A gray scan has no material: its z channel is
zero and a third channel says so.
- `candidates`: the classical cue. Stable dense regions of the attenuation map (OpenCV's MSER, both
  polarities) as boxes; the share of drug labels that some candidate overlaps at IoU >= 0.5 / 0.3 bounds what
  any scoring of them could reach.
- `train` / `evaluate`: the learned cue. A small fully convolutional net over (a_H, z, has-material) at a
  320-px working size, trained on the train family's composites plus untouched real training scans (pixels
  inside a kept drug box are the class, those of a dropped, too-faint item are ignored); its drug map's
  connected components at 0.3 / 0.5 / 0.7 are boxes, scored by their mean probability, and reported by
  `bench/drugs.py`'s `score` exactly as the detector is (AP50, detection rate at 5 % false alarms on the
  untouched scans, per form and rendering).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drugs import DRUG_CLASSES, score  # noqa: E402  (bench/ is not a package)

from xscreen.settings import get_settings  # noqa: E402
from xscreen.training.metrics import box_iou  # noqa: E402
from xscreen.vision.detections import Detections  # noqa: E402
from xscreen.vision.engine import Engine  # noqa: E402
from xscreen.vision.screening import read_scan_file  # noqa: E402
from xscreen.vision.taxonomy import load_taxonomy  # noqa: E402
from xscreen.vision.xray.convert import material_from_colour  # noqa: E402
from xscreen.vision.yolo import find_images  # noqa: E402

WORK = 320  # px, the long side the cue works at
STRIDE = 4  # the net's output stride
THRESHOLDS = (0.3, 0.5, 0.7)


def material_map(engine: Engine, path: Path) -> tuple[np.ndarray, float]:
    """(3, h, w) float32 (a_H / 3, z / 2, has-material) at the working size, and the scale from the file's pixels."""
    scan = read_scan_file(path)
    image = engine.model_image(scan)
    h, w = image.shape[:2]
    s = WORK / max(h, w)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    a_high, z = material_from_colour(np.ascontiguousarray(small))
    gray = scan.kind == "gray"
    z = np.zeros_like(z) if gray else z / 2.0
    return np.stack([np.clip(a_high, 0, 6) / 3.0, z, np.full_like(z, 0.0 if gray else 1.0)]).astype(np.float32), s


def _meta(composites: Path | None, path: Path) -> dict | None:
    if composites is None:
        return None
    return json.loads((composites / "meta" / path.parent.name / f"{path.stem}.json").read_text())


def _drug_items(meta: dict | None) -> list[dict]:
    return [p for p in (meta or {}).get("projected", []) if p["label"] in DRUG_CLASSES]


def candidates(engine: Engine, composites: Path, n: int) -> dict:
    paths = sorted(find_images(composites / "images"))[:n]
    hits = {0.5: 0, 0.3: 0}
    total, counts = 0, []
    for path in paths:
        x, s = material_map(engine, path)
        u = cv2.GaussianBlur(np.clip(x[0] * 255, 0, 255).astype(np.uint8), (0, 0), 1.5)
        area = u.shape[0] * u.shape[1]
        mser = cv2.MSER_create(delta=2, min_area=max(4, int(0.0005 * area)), max_area=int(0.3 * area), max_variation=0.5)
        boxes = [b for img in (u, 255 - u) for b in mser.detectRegions(img)[1]]
        xyxy = np.array(boxes, np.float32).reshape(-1, 4)
        xyxy[:, 2:] += xyxy[:, :2]
        xyxy /= s
        counts.append(len(xyxy))
        for item in _drug_items(_meta(composites, path)):
            if not item["kept"]:
                continue
            total += 1
            best = float(box_iou(np.array([item["box_xyxy"]], np.float32), xyxy)[0].max()) if len(xyxy) else 0.0
            for t in hits:
                hits[t] += best >= t
    return {"composites": str(composites), "n": len(paths), "labels": total, "recall_iou50": round(hits[0.5] / max(total, 1), 3),
            "recall_iou30": round(hits[0.3] / max(total, 1), 3), "candidates_per_scan_median": float(np.median(counts))}


def _net():
    import torch.nn as nn

    def block(i: int, o: int, stride: int = 1, dilation: int = 1) -> nn.Module:
        return nn.Sequential(nn.Conv2d(i, o, 3, stride, dilation, dilation=dilation, bias=False), nn.BatchNorm2d(o), nn.SiLU())

    c = 24  # 60k parameters: context up to ~70 px at the working size through the dilated tail
    return nn.Sequential(block(3, c), block(c, c, 2), block(c, 2 * c), block(2 * c, 2 * c, 2), block(2 * c, 2 * c),
                         block(2 * c, 2 * c, 1, 2), block(2 * c, 2 * c, 1, 4), block(2 * c, 2 * c, 1, 8), nn.Conv2d(2 * c, 3, 1))


def _target(meta: dict | None, s: float, shape: tuple[int, int]) -> np.ndarray:
    t = np.zeros(shape, np.int64)
    for item in _drug_items(meta):
        x0, y0, x1, y1 = (int(round(v * s)) for v in item["box_xyxy"])
        t[y0:y1, x0:x1] = 1 + DRUG_CLASSES.index(item["label"]) if item["kept"] else -1  # too faint: ignored
    return t[STRIDE // 2 :: STRIDE, STRIDE // 2 :: STRIDE]


def _crops(data: list, rng: np.random.Generator, size: int = 160):
    import torch

    xs, ts = [], []
    for x, t in data:
        pad_h, pad_w = max(0, size - x.shape[1]), max(0, size - x.shape[2])
        if pad_h or pad_w:
            x = np.pad(x, ((0, 0), (0, pad_h), (0, pad_w)))
            t = np.pad(t, ((0, -(-x.shape[1] // STRIDE) - t.shape[0]), (0, -(-x.shape[2] // STRIDE) - t.shape[1])))
        y0 = rng.integers(0, x.shape[1] - size + 1) // STRIDE * STRIDE
        x0 = rng.integers(0, x.shape[2] - size + 1) // STRIDE * STRIDE
        xc, tc = x[:, y0 : y0 + size, x0 : x0 + size], t[y0 // STRIDE : (y0 + size) // STRIDE, x0 // STRIDE : (x0 + size) // STRIDE]
        if rng.random() < 0.5:
            xc, tc = xc[:, :, ::-1], tc[:, ::-1]
        if rng.random() < 0.5:
            xc, tc = xc[:, ::-1], tc[::-1]
        xs.append(np.ascontiguousarray(xc))
        ts.append(np.ascontiguousarray(tc))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts))


def train(engine: Engine, composites: Path, negatives: Path, minutes: float, out: Path, seed: int = 0) -> dict:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    data = []
    for path in sorted(find_images(composites / "images")) + sorted(find_images(negatives))[::3]:
        x, s = material_map(engine, path)
        data.append((x, _target(_meta(composites if composites in path.parents else None, path), s, x.shape[1:])))
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-4)
    weight = torch.tensor([1.0, 4.0, 6.0])  # drug pixels are a few % of a scan
    steps, losses, end = 0, [], time.monotonic() + minutes * 60
    while time.monotonic() < end:
        order = rng.permutation(len(data))
        for k in range(0, len(order) - 31, 32):
            x, t = _crops([data[i] for i in order[k : k + 32]], rng)
            loss = F.cross_entropy(net(x), t, weight=weight, ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            losses.append(float(loss))
            if time.monotonic() > end:
                break
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out)
    return {"scans": len(data), "steps": steps, "loss_first_50": float(np.mean(losses[:50])), "loss_last_50": float(np.mean(losses[-50:]))}


def _detect(net, engine: Engine, path: Path, ids: list[int]) -> Detections:
    import torch

    x, s = material_map(engine, path)
    with torch.no_grad():
        p = torch.softmax(net(torch.from_numpy(x)[None]), 1)[0].numpy()
    drug = p[1] + p[2]
    k = s / STRIDE
    xyxy, scores, classes = [], [], []
    for t in THRESHOLDS:
        n, cc, stats, _ = cv2.connectedComponentsWithStats((drug > t).astype(np.uint8), connectivity=8)
        for j in range(1, n):
            x0, y0, bw, bh, area = stats[j]
            if area < 2:
                continue
            m = cc == j
            xyxy.append([x0 / k, y0 / k, (x0 + bw) / k, (y0 + bh) / k])
            scores.append(float(drug[m].mean()))
            classes.append(ids[int(p[2][m].sum() > p[1][m].sum())])
    return Detections(np.array(xyxy, np.float32).reshape(-1, 4), np.array(scores, np.float32), np.array(classes, np.int64))


def evaluate(engine: Engine, weights: Path, composites: Path, negatives: Path) -> dict:
    import torch

    net = _net()
    net.load_state_dict(torch.load(weights))
    net.eval()
    taxonomy = load_taxonomy()
    ids = [taxonomy.id_of(c) for c in DRUG_CLASSES]
    comp_paths = sorted(find_images(composites / "images"))
    comp = [_detect(net, engine, p, ids) for p in comp_paths]
    neg = [_detect(net, engine, p, ids) for p in sorted(find_images(negatives))]
    return score(f"physics cue {weights}", composites, comp_paths, comp, negatives, neg, operating=lambda _cls: 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("candidates", "train", "evaluate"):
        p = sub.add_parser(name)
        p.add_argument("--composites", type=Path, required=True)
        p.add_argument("--model", default="default", help="whose card converts scans to the model's input")
        p.add_argument("--models-dir", type=Path, default=None)
        p.add_argument("--out", type=Path, default=None)
        if name == "candidates":
            p.add_argument("--n", type=int, default=60)
        else:
            p.add_argument("--negatives", type=Path, required=True)
        if name == "train":
            p.add_argument("--minutes", type=float, default=25.0)
        if name == "evaluate":
            p.add_argument("--weights", type=Path, required=True)
    args = parser.parse_args()
    engine = Engine.load(args.model, models_dir=args.models_dir or get_settings().models_dir)
    if args.command == "candidates":
        report = candidates(engine, args.composites, args.n)
    elif args.command == "train":
        report = train(engine, args.composites, args.negatives, args.minutes, args.out or Path("runs/drug-cue/fcn.pt"))
    else:
        report = evaluate(engine, args.weights, args.composites, args.negatives)
    text = json.dumps(report, indent=1)
    if args.out and args.command != "train":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text if args.command != "evaluate" else json.dumps({c: {k: m[k] for k in ("ap50", "dr_at_far5", "threshold_far5", "instances")} for c, m in report["classes"].items()}))


if __name__ == "__main__":
    main()
