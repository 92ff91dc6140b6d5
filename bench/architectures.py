"""Choose the architecture by measurement: train each candidate from scratch on the same data for the
same wall-clock budget on this machine, then compare accuracy and CPU inference speed.

    python bench/architectures.py train --data data/real/data.yaml --hours 0.15 --imgsz 320
    python bench/architectures.py report --eval-data data/real/data-sixray.yaml --out docs/bench/architectures.md

Candidates: ultralytics 8.4's nano models, YOLOv8n, YOLO11n and YOLO26n (NMS-free).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from xscreen.settings import REPO_ROOT

CANDIDATES = ("yolov8n", "yolo11n", "yolo26n")
RUNS = REPO_ROOT / "runs" / "arch"


def train(args: argparse.Namespace) -> None:
    from xscreen.training.train import TrainOptions, run

    for arch in args.only or CANDIDATES:
        if (RUNS / arch / "weights" / "last.pt").exists():
            continue
        started = time.time()
        run(TrainOptions(name=arch, model=f"{arch}.yaml", data=Path(args.data).resolve(), imgsz=args.imgsz, time=args.hours,
                         epochs=1000, batch=16, workers=2, device=args.device, project=RUNS, xray_augment=None, close_mosaic=2))
        (RUNS / arch / "wall_seconds.txt").write_text(f"{time.time() - started:.0f}\n")


def _onnx_speed(weights: Path, imgsz: int, repeats: int = 30) -> float:
    """Median ms per image, batch 1, onnxruntime CPU, on the exported model."""
    import onnxruntime as ort
    from ultralytics import YOLO

    onnx_path = Path(YOLO(str(weights)).export(format="onnx", imgsz=imgsz, simplify=True, device="cpu"))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    name = session.get_inputs()[0].name
    for _ in range(3):
        session.run(None, {name: x})
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        session.run(None, {name: x})
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times))


def report(args: argparse.Namespace) -> None:
    import csv
    import platform

    from xscreen.offline import prepare_ultralytics
    from xscreen.training.evaluate import EvaluateOptions
    from xscreen.training.evaluate import run as evaluate

    prepare_ultralytics()
    rows = []
    for arch in CANDIDATES:
        run_dir = RUNS / arch
        best = run_dir / "weights" / "best.pt"
        if not best.exists():
            continue
        results = list(csv.DictReader((run_dir / "results.csv").open()))
        epochs = len(results)
        wall = float((run_dir / "wall_seconds.txt").read_text()) if (run_dir / "wall_seconds.txt").exists() else float("nan")
        summary = evaluate(EvaluateOptions(model=str(best), data=[Path(args.eval_data)], out=run_dir / "eval", models_dir=REPO_ROOT / "models"))
        m = summary.reports[0].metrics
        rows.append({
            "model": arch, "epochs": epochs, "train_minutes": round(wall / 60, 1),
            "mAP50": m["mAP50"], "firearm_AP50": m["classes"].get("firearm", {}).get("AP50"),
            "onnx_ms_per_image": _onnx_speed(best, args.imgsz),
        })
    lines = [
        "# Architecture comparison (issue 5)", "",
        f"Machine: {platform.processor() or platform.machine()}, 2 cores, no GPU (shared with other work while it ran: timings are indicative).",
        f"Each candidate trained from scratch on `{args.train_data}` for the same wall-clock budget at imgsz {args.imgsz}, "
        f"evaluated on `{args.eval_data}` (real SIXray validation scans); speed: onnxruntime CPU, batch 1, median of 30 runs.", "",
        "| model | epochs in budget | train minutes | mAP50 | firearm AP50 | ONNX CPU ms/image |", "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['epochs']} | {r['train_minutes']} | {r['mAP50']:.3f} | {r['firearm_AP50'] or 0:.3f} | {r['onnx_ms_per_image']:.1f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    (RUNS / "comparison.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--hours", type=float, default=0.15)
    t.add_argument("--device", default="cpu", help="cpu, or a CUDA index such as 0")
    t.add_argument("--imgsz", type=int, default=320)
    t.add_argument("--only", nargs="*")
    r = sub.add_parser("report")
    r.add_argument("--eval-data", required=True)
    r.add_argument("--train-data", default="data/real/data.yaml")
    r.add_argument("--imgsz", type=int, default=320)
    r.add_argument("--out", default=str(REPO_ROOT / "docs" / "bench" / "architectures.md"))
    args = parser.parse_args()
    {"train": train, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
