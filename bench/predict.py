"""Whole-process `xscreen predict` against ultralytics' `YOLO("model.onnx").predict`, on the same file and scans.

The anchor is what a user who deploys ultralytics runs: the exported ONNX model through ultralytics' own
predict, one file at a time. Both sides run here as child processes of this one (one process tree), start-up
included: wall time from spawn to exit, peak RSS from the kernel's accounting of each child (`wait4`). Rounds
alternate the order (A B, B A, ...) because the machine is shared and its load moves by the minute; each
round's ratio compares neighbours, and the report gives medians with the spread (min-max).

Inputs: 100 real SIXray validation scans, the first 50 as their colour JPEGs, the next 50 converted to 8-bit
gray PNGs (single-energy stations), in a temporary folder. Sides: `xscreen-fp32`, `xscreen-int8`
(`--variant int8`), `ultralytics-onnx` (the fp32 file, imgsz 512, its default thresholds).

`breakdown` times where one `xscreen predict` process spends its time (imports, session, decode, conversion
to the model's image, letterbox, inference, post-processing), in a child process, against ultralytics'
import and model load. `accuracy` gives AP50 on the labelled SIXray validation scans for fp32 and INT8
through the engine (the one screening path) and through ultralytics' ONNX predict.

    nice -n 5 .venv/bin/python bench/predict.py --rounds 5 --out docs/bench/predict.md --json docs/bench/predict.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.engine import DATA, ap50, labelled_val_scans, machine  # noqa: E402

MODEL = REPO / "models" / "xscreen-yolo11n" / "7" / "model.onnx"
IMGSZ = 512
SIDES = ("xscreen-fp32", "xscreen-int8", "ultralytics-onnx")
logger = logging.getLogger("bench.predict")


def make_scans(folder: Path, count: int = 100) -> list[Path]:
    """The first half of `count` SIXray val scans as colour JPEGs, the second half as gray PNGs."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((DATA / "val").glob("*.jpg"))[:count]
    out = []
    for i, src in enumerate(sources):
        if i < count // 2:
            dst = folder / src.name
            shutil.copyfile(src, dst)
        else:
            dst = folder / f"{src.stem}-gray.png"
            cv2.imwrite(str(dst), cv2.imread(str(src), cv2.IMREAD_GRAYSCALE))
        out.append(dst)
    return out


def command(side: str, scans: Path, model: Path) -> list[str]:
    xscreen = str(Path(sys.executable).with_name("xscreen"))
    if side == "xscreen-fp32":
        return [xscreen, "predict", str(scans), "--model", str(model), "--format", "jsonl", "--allow-errors"]
    if side == "xscreen-int8":
        return [xscreen, "predict", str(scans), "--model", str(model.with_name("model-int8.onnx")), "--format", "jsonl", "--allow-errors"]
    return [sys.executable, str(Path(__file__).resolve()), "ultralytics-child", str(model), str(scans)]


def run_side(side: str, scans: Path, model: Path, env: dict[str, str]) -> dict[str, Any]:
    """One whole process: wall seconds, peak RSS (MB, the child's own), lines of output."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command(side, scans, model), stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{side} exited {proc.returncode}")
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "results": len(text.splitlines())}


def ultralytics_child(model: str, folder: str) -> None:
    """`YOLO(onnx).predict` one file at a time, as a user's loop over a folder does; one line per file."""
    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    yolo = YOLO(model, task="detect")
    for path in sorted(Path(folder).iterdir()):
        result = yolo.predict(str(path), imgsz=IMGSZ, device="cpu", verbose=False)[0]
        print(path.name, len(result.boxes))


# ---- where the time goes ---------------------------------------------------------------------------------


def breakdown_child(model: str, folder: str, variant: str) -> None:
    """Stage times of what `xscreen predict` does per scan, printed as JSON (run in a fresh process)."""
    started = time.perf_counter()
    import xscreen.cli  # noqa: F401 - the command's own imports: typer, rich, settings
    from xscreen.resources import DEFAULT_POLICY_FILE
    from xscreen.vision.engine import Engine
    from xscreen.vision.policy import load_policy
    from xscreen.vision.screening import read_scan_file

    imports = time.perf_counter() - started
    t0 = time.perf_counter()
    path = Path(model) if variant == "fp32" else Path(model).with_name("model-int8.onnx")
    engine = Engine.load(path, models_dir=path.parent, providers=["CPUExecutionProvider"], warmup=False)
    session = time.perf_counter() - t0
    policy = load_policy(DEFAULT_POLICY_FILE, taxonomy=engine.taxonomy)
    stages = dict.fromkeys(("decode", "model_image", "letterbox", "inference", "postprocess", "decision"), 0.0)
    shapes: dict[str, int] = {}
    files = sorted(Path(folder).iterdir())
    for f in files:
        t = [time.perf_counter()]
        scan = read_scan_file(f)
        t.append(time.perf_counter())
        image = engine.model_image(scan)
        t.append(time.perf_counter())
        blob, mappings = engine.preprocess([image])
        t.append(time.perf_counter())
        output = engine._run(blob)
        t.append(time.perf_counter())
        detections = [engine._to_detections(r, m) for r, m in zip(engine._decode(output), mappings)]
        t.append(time.perf_counter())
        policy.decide(detections[0], scan)  # the policy's image-quality gate looks at the scan's gray view
        t.append(time.perf_counter())
        for name, a, b in zip(stages, t, t[1:]):
            stages[name] += b - a
        key = "x".join(map(str, blob.shape[2:]))
        shapes[key] = shapes.get(key, 0) + 1
    print(json.dumps({"imports_s": imports, "session_s": session, "scans": len(files),
                      "per_scan_ms": {k: 1000 * v / len(files) for k, v in stages.items()}, "input_shapes": shapes}))


def ultralytics_startup_child(model: str) -> None:
    started = time.perf_counter()
    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    imports = time.perf_counter() - started
    t0 = time.perf_counter()
    yolo = YOLO(model, task="detect")
    yolo.predict(np.full((IMGSZ, IMGSZ, 3), 114, np.uint8), imgsz=IMGSZ, device="cpu", verbose=False)  # loads the session
    print(json.dumps({"imports_s": imports, "session_s": time.perf_counter() - t0}))


def child_json(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- accuracy --------------------------------------------------------------------------------------------


def accuracy(model: Path, count: int) -> dict[str, dict[str, float]]:
    """AP50 per class on labelled SIXray val scans (conf 0.001): engine fp32 and INT8, ultralytics' ONNX predict."""
    import cv2

    from xscreen.training.offline import prepare_ultralytics
    from xscreen.vision.engine import Engine
    from xscreen.vision.screening import read_scan_file
    from xscreen.vision.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    scans = labelled_val_scans(count)
    truths = [(boxes, ids) for _, boxes, ids in scans]
    out: dict[str, dict[str, float]] = {}
    for name, path in (("xscreen-fp32", model), ("xscreen-int8", model.with_name("model-int8.onnx"))):
        engine = Engine.load(path, models_dir=path.parent, providers=["CPUExecutionProvider"]).with_thresholds(0.001)
        dets = [engine.predict_scans([read_scan_file(p)])[0] for p, _, _ in scans]
        per = ap50([(d.xyxy, d.scores, d.class_ids) for d in dets], truths)
        out[name] = {taxonomy.by_id(k).name: v for k, v in per.items()}
        logger.info("accuracy %s: %s", name, out[name])
    prepare_ultralytics()
    from ultralytics import YOLO

    yolo = YOLO(str(model), task="detect")
    preds = []
    for p, _, _ in scans:
        r = yolo.predict(cv2.imread(str(p)), imgsz=IMGSZ, conf=0.001, iou=0.45, device="cpu", verbose=False)[0]
        ids = np.array([taxonomy.id_of(r.names[int(c)]) for c in r.boxes.cls.numpy()], np.int64)
        preds.append((r.boxes.xyxy.numpy(), r.boxes.conf.numpy(), ids))
    out["ultralytics-onnx"] = {taxonomy.by_id(k).name: v for k, v in ap50(preds, truths).items()}
    return out


# ---- report ----------------------------------------------------------------------------------------------


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(float(np.median(values)))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def render(meta: dict[str, Any], rounds: list[dict[str, dict[str, Any]]], breakdown: dict[str, Any], ap: dict[str, dict[str, float]]) -> str:
    anchor = "ultralytics-onnx"
    lines = [
        "# `xscreen predict` vs ultralytics' ONNX predict, whole process",
        "",
        f"- Date: {meta['date']}; machine: {meta['machine']}; load average {meta['load_before']} before, {meta['load_after']} after.",
        f"- Model: `{meta['model']}` (fp32) and `model-int8.onnx` beside it; imgsz {IMGSZ}; CPU execution provider.",
        f"- Inputs: {meta['scans']} real SIXray val scans, {meta['scans'] // 2} colour JPEG + {meta['scans'] - meta['scans'] // 2} gray PNG.",
        f"- {len(rounds)} rounds, each side once per round, the order reversed every other round; every side is a child "
        "process of the benchmark (start-up included), peak RSS from `wait4`. Medians with (min-max); the ratio is "
        "ultralytics' wall time over ours within the same round.",
        "",
        "| side | wall s | scans/s | peak RSS MB | x ultralytics-onnx |",
        "|---|---|---|---|---|",
    ]
    for side in meta["sides"]:
        walls = [r[side]["wall_s"] for r in rounds]
        rss = [r[side]["peak_rss_mb"] for r in rounds]
        ratio = spread([r[anchor]["wall_s"] / r[side]["wall_s"] for r in rounds]) if anchor in meta["sides"] else ""
        lines.append(f"| {side} | {spread(walls)} | {meta['scans'] / float(np.median(walls)):.1f} | {spread(rss, '{:.0f}')} | {ratio} |")
    if breakdown:
        lines += ["", "## Where the time goes", "", "One fresh process per row, the stages of `xscreen predict` timed one by one over the same scans:", ""]
        lines += ["(ms per scan unless marked s)", ""]
        lines += ["| | imports s | session s | decode | to model image | letterbox | inference | post | decision | ms/scan total |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, b in breakdown.items():
            if "per_scan_ms" not in b:
                continue
            per = b["per_scan_ms"]
            cells = " | ".join(f"{per[k]:.1f}" for k in ("decode", "model_image", "letterbox", "inference", "postprocess", "decision"))
            lines.append(f"| {name} | {b['imports_s']:.2f} | {b['session_s']:.2f} | {cells} | {sum(per.values()):.1f} |")
        u = breakdown.get("ultralytics-onnx")
        if u:
            lines.append(f"| ultralytics-onnx (start-up only; session: load + first predict) | {u['imports_s']:.2f} | {u['session_s']:.2f} | | | | | | | |")
        shapes = breakdown.get("xscreen-fp32", {}).get("input_shapes")
        if shapes:
            lines += ["", "Input shapes the engine ran (H x W: scans): " + ", ".join(f"{k}: {v}" for k, v in sorted(shapes.items(), key=lambda kv: -kv[1])) + "."]
    if ap:
        lines += ["", "## Accuracy", "", f"AP50 on {meta['eval_count']} labelled SIXray val scans (byte-identical copies merged), conf 0.001, NMS IoU 0.45:", ""]
        lines += ["| side | mAP50 | per class |", "|---|---|---|"]
        for name, per in ap.items():
            lines.append(f"| {name} | {np.mean(list(per.values())):.3f} | " + ", ".join(f"{k} {v:.3f}" for k, v in per.items()) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["ultralytics-child"]:
        ultralytics_child(*argv[1:3])
        return 0
    if argv[:1] == ["breakdown-child"]:
        breakdown_child(*argv[1:4])
        return 0
    if argv[:1] == ["ultralytics-startup-child"]:
        ultralytics_startup_child(argv[1])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--scans", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sides", nargs="+", default=list(SIDES), choices=SIDES)
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--eval", type=int, default=0, help="labelled val scans for AP50 (0: skip)")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="write the raw rounds here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    work = Path(tempfile.mkdtemp(prefix="xscreen-bench-predict-"))
    env = {**os.environ, "YOLO_CONFIG_DIR": str(work / "yolo"), "XSCREEN_PROVIDERS": '["CPUExecutionProvider"]'}
    os.environ["YOLO_CONFIG_DIR"] = env["YOLO_CONFIG_DIR"]
    try:
        folder = work / "scans"
        make_scans(folder, args.scans)
        load_before = f"{os.getloadavg()[0]:.1f}"
        rounds: list[dict[str, dict[str, Any]]] = []
        for i in range(args.rounds):
            order = args.sides if i % 2 == 0 else list(reversed(args.sides))
            rounds.append({side: run_side(side, folder, args.model, env) for side in order})
            logger.info("round %d: %s", i + 1, {s: round(r["wall_s"], 2) for s, r in rounds[-1].items()})
        breakdown: dict[str, Any] = {}
        if not args.no_breakdown:
            for variant in ("fp32", "int8"):
                breakdown[f"xscreen-{variant}"] = child_json(["breakdown-child", str(args.model), str(folder), variant], env)
            breakdown["ultralytics-onnx"] = child_json(["ultralytics-startup-child", str(args.model)], env)
        ap = accuracy(args.model, args.eval) if args.eval else {}
        meta = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine().split(";")[0], "model": str(args.model.relative_to(REPO) if args.model.is_relative_to(REPO) else args.model),
            "scans": args.scans, "sides": args.sides, "load_before": load_before, "load_after": f"{os.getloadavg()[0]:.1f}",
            "eval_count": len(labelled_val_scans(args.eval)) if args.eval else 0,
        }
        report = render(meta, rounds, breakdown, ap)
        print(report)
        if args.out:
            args.out.write_text(report)
        if args.json:
            args.json.write_text(json.dumps({"meta": meta, "rounds": rounds, "breakdown": breakdown, "ap50": ap}, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
