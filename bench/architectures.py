"""Choose the architecture by measurement: train each candidate from scratch on the same data, recipe and
wall-clock budget, then compare accuracy (per dataset) and CPU inference speed.

    python bench/architectures.py train --config configs/train/no-opixray-gpu.yaml --hours 0.12 --device 0
    python bench/architectures.py report --runs runs/arch --eval-data data/default/data-sixray.yaml \
        --eval-data data/default/data-opixray.yaml --imgsz 512 --out docs/bench/architectures.md

`train` runs the candidates one after another; on a lent GPU they ran side by side instead
(scripts/device/train_on_lent_gpu.sh with `no-opixray-gpu:arch-yolov8n:yolov8n.yaml` and so on), each with the
same loader workers, so each had the same share of the host. Candidates: ultralytics 8.4's nano models,
YOLOv8n, YOLO11n and YOLO26n (NMS-free).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import numpy as np

from xscreen.checkout import REPO_ROOT

CANDIDATES = ("yolov8n", "yolo11n", "yolo26n")


def train(args: argparse.Namespace) -> None:
    from xscreen.training.train import load_options, run

    for arch in args.only or CANDIDATES:
        if (Path(args.runs) / arch / "weights" / "last.pt").exists():
            continue
        run(load_options(Path(args.config), name=arch, model=f"{arch}.yaml", time=args.hours, device=args.device, project=Path(args.runs).resolve()))


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
    from xscreen.training.evaluate import EvaluateOptions
    from xscreen.training.evaluate import run as evaluate
    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
    datasets = [Path(d) for d in args.eval_data]
    rows = []
    for arch in CANDIDATES:
        run_dir = Path(args.runs) / arch
        weights = run_dir / "weights" / "last.pt"
        if not weights.exists():
            continue
        results = list(csv.DictReader((run_dir / "results.csv").open()))
        summary = evaluate(EvaluateOptions(model=str(weights), data=datasets, out=run_dir / "eval", models_dir=REPO_ROOT / "models"))
        per_data = {r.dataset: {"mAP50": r.metrics["mAP50"], **{f"{c}_AP50": v["AP50"] for c, v in r.metrics["classes"].items() if v.get("AP50") is not None}}
                    for r in summary.reports}
        rows.append({"model": arch, "epochs": len(results), "train_seconds": round(float(results[-1]["time"])),
                     "accuracy": per_data, "onnx_ms_per_image": _onnx_speed(weights, args.imgsz)})
    names = [r.dataset for r in summary.reports]
    cols = [(n, k) for n in names for k in ("mAP50", "firearm_AP50", "knife_AP50") if any(k in r["accuracy"][n] for r in rows)]
    lines = [
        "# Architecture comparison (issue 5)", "", args.note, "",
        f"Speed: onnxruntime CPU on this machine ({platform.processor() or platform.machine()}), batch 1, {args.imgsz} px, "
        "median of 30 runs of the exported model.", "",
        "| model | epochs in budget | train seconds | " + " | ".join(f"{n} {k}" for n, k in cols) + " | ONNX CPU ms/image |",
        "|---|---|---|" + "---|" * len(cols) + "---|",
    ]
    for r in rows:
        acc = " | ".join(f"{r['accuracy'][n].get(k, float('nan')):.3f}" for n, k in cols)
        lines.append(f"| {r['model']} | {r['epochs']} | {r['train_seconds']} | {acc} | {r['onnx_ms_per_image']:.1f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    (Path(args.runs) / "comparison.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--config", default=str(REPO_ROOT / "configs" / "train" / "no-opixray-gpu.yaml"))
    t.add_argument("--runs", default=str(REPO_ROOT / "runs" / "arch"))
    t.add_argument("--hours", type=float, default=0.12)
    t.add_argument("--device", default="cpu", help="cpu, or a CUDA index such as 0")
    t.add_argument("--only", nargs="*")
    r = sub.add_parser("report")
    r.add_argument("--runs", default=str(REPO_ROOT / "runs" / "arch"))
    r.add_argument("--eval-data", action="append", required=True)
    r.add_argument("--imgsz", type=int, default=512)
    r.add_argument("--note", default="", help="how and where the candidates were trained")
    r.add_argument("--out", default=str(REPO_ROOT / "docs" / "bench" / "architectures.md"))
    args = parser.parse_args()
    {"train": train, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
