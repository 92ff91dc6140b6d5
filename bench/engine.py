"""Benchmark the inference engine against ultralytics' own predict, on the same model and real scans.

Backends, each timed in its own spawned process (so peak memory is that backend's alone, imports included):
- `ours-fp32`: xscreen's Engine on the fp32 ONNX export (onnxruntime, CPU);
- `ours-int8`: the same engine on the INT8 variant (`xscreen.training.quantize`, static, calibrated on scans);
- `ultralytics-pt`: `YOLO(pt).predict` (PyTorch);
- `ultralytics-onnx`: `YOLO(onnx).predict` on our fp32 export (ultralytics' own onnxruntime wrapper).
Batch 1 and 8 over real SIXray scans of mixed sizes: images/s, per-call latency p50/p99, peak RSS. Rounds
alternate the backends and the best round counts, because the machine is shared and load comes and goes.

Accuracy: with `--weights` of a trained model whose classes include firearm/knife/tool, AP50 on labelled
SIXray validation scans per backend (byte-identical copies merged, as the importer does). Always: how far
the INT8 model's raw outputs move from fp32's on the same inputs.

    nice -n 10 .venv/bin/python bench/engine.py --imgsz 416 --out docs/bench/engine.md
Without `--weights` the model is a randomly initialised YOLO11n with the taxonomy's classes: fine for speed,
meaningless for accuracy (reported as such).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import multiprocessing as mp
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "sixray-subset"
SIXRAY_TO_TAXONOMY = {"Gun": "firearm", "Knife": "knife", "Wrench": "tool"}
BACKENDS = ("ours-fp32", "ours-int8", "ultralytics-pt", "ultralytics-onnx")
logger = logging.getLogger("bench.engine")


# ---- model preparation (parent process) -----------------------------------------------------------------


def prepare_model(workdir: Path, *, weights: Path | None, imgsz: int, calib: list[Path], conf: float, iou: float) -> dict[str, str]:
    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    from xscreen.training.quantize import quantize_int8
    from xscreen.vision.engine import Engine
    from xscreen.vision.io import read_scan
    from xscreen.vision.registry import InputSpec, ModelCard, OutputSpec, Thresholds, sha256_file
    from xscreen.vision.taxonomy import load_taxonomy

    workdir.mkdir(parents=True, exist_ok=True)
    pt = workdir / "model.pt"
    if weights is not None:
        shutil.copyfile(weights, pt)
        arch = "trained:" + weights.name
    else:
        from ultralytics.nn.tasks import DetectionModel

        names = load_taxonomy().names
        model = YOLO("yolo11n.yaml")
        model.model = DetectionModel("yolo11n.yaml", nc=len(names), verbose=False)
        model.model.names = dict(enumerate(names))
        model.model.args = {"imgsz": imgsz}
        model.save(str(pt))
        arch = "yolo11n (random init)"
    yolo = YOLO(str(pt))
    classes = [yolo.names[i] for i in range(len(yolo.names))]
    exported = Path(yolo.export(format="onnx", imgsz=imgsz, dynamic=True, simplify=True, device="cpu", verbose=False))
    onnx_path = workdir / "model.onnx"
    shutil.move(exported, onnx_path)
    card = ModelCard(
        name="bench", version=1, created=datetime.now(timezone.utc).isoformat(timespec="seconds"), architecture=arch,
        classes=classes, input=InputSpec(imgsz=imgsz), output=OutputSpec(layout="yolo_raw"),
        thresholds=Thresholds(conf=conf, iou=iou), files={"model.onnx": sha256_file(onnx_path)},
    )
    (workdir / "card.json").write_text(card.model_dump_json(indent=2))
    engine = Engine.load(onnx_path, models_dir=workdir, providers=["CPUExecutionProvider"])
    images = [read_scan(p.read_bytes()).pixels for p in calib]
    started = time.perf_counter()
    quantize_int8(onnx_path, workdir / "model-int8.onnx", (engine.preprocess([im])[0] for im in images), input_name=engine.input_name)
    quant_s = time.perf_counter() - started
    card.files["model-int8.onnx"] = sha256_file(workdir / "model-int8.onnx")
    (workdir / "card.json").write_text(card.model_dump_json(indent=2))
    return {"pt": str(pt), "onnx": str(onnx_path), "int8": str(workdir / "model-int8.onnx"), "arch": arch, "quantize_s": f"{quant_s:.1f}"}


# ---- one backend in a spawned process -------------------------------------------------------------------


def _load_backend(name: str, paths: dict[str, str], imgsz: int, conf: float, iou: float):
    """A callable (list[RGB image], conf=None) -> list[(xyxy, scores, class_ids)] for one backend.

    `conf` overrides the score threshold on the same loaded model (accuracy needs the low-score tail)."""
    if name.startswith("ours"):
        from xscreen.vision.engine import Engine

        path = Path(paths["int8" if name == "ours-int8" else "onnx"])
        engine = Engine.load(path, models_dir=path.parent, providers=["CPUExecutionProvider"])  # card: conf, iou

        def run_ours(images: list[np.ndarray], conf: float | None = None):
            chosen = engine if conf is None else engine.with_thresholds(conf)
            return [(d.xyxy, d.scores, d.class_ids) for d in chosen.predict(images)]

        return run_ours

    import cv2

    from xscreen.training.offline import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    from xscreen.vision.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    model = YOLO(paths["pt"] if name == "ultralytics-pt" else paths["onnx"], task="detect")
    ids = np.array([taxonomy.id_of(model.names[i]) for i in range(len(model.names))], np.int64) if name == "ultralytics-pt" else None

    default_conf = conf

    def run(images: list[np.ndarray], conf: float | None = None):
        bgr = [cv2.cvtColor(im, cv2.COLOR_RGB2BGR) for im in images]
        results = model.predict(bgr, imgsz=imgsz, conf=default_conf if conf is None else conf, iou=iou, device="cpu", verbose=False, batch=len(bgr))
        out = []
        for r in results:
            cls = r.boxes.cls.numpy().astype(np.int64)
            names = r.names
            mapped = np.array([taxonomy.id_of(names[int(c)]) for c in cls], np.int64) if ids is None else ids[cls]
            out.append((r.boxes.xyxy.numpy(), r.boxes.conf.numpy(), mapped))
        return out

    return run


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's own high-water RSS so far, MB (VmHWM; ru_maxrss would carry the parent's across fork and exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid == "self" else float("nan")


def _worker(name: str, paths: dict[str, str], job: dict[str, Any], conn: Any) -> None:
    """A long-lived backend process: loads once, then answers `eval`, `time` and `stop` commands."""
    os.environ.setdefault("YOLO_CONFIG_DIR", job["yolo_config_dir"])
    sys.path.insert(0, str(REPO))
    from xscreen.vision.io import read_scan

    try:
        images = [read_scan(Path(p).read_bytes()).pixels for p in job["images"]]
        run = _load_backend(name, paths, job["imgsz"], job["conf"], job["iou"])
        for batch in job["batches"]:
            run(images[:batch])  # warm-up at each batch size
        conn.send(("ready", None))
    except Exception as exc:  # noqa: BLE001 - report, don't hang the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    cursor = 0
    while True:
        cmd, arg = conn.recv()
        if cmd == "stop":
            conn.send(("peak_rss_mb", peak_rss_mb()))
            return
        if cmd == "eval":
            dets = []
            for i in range(0, len(arg), 8):  # decoded 8 at a time: the peak memory stays the timing loop's
                dets.extend(run([read_scan(Path(p).read_bytes()).pixels for p in arg[i : i + 8]], conf=0.001))
            conn.send(("eval", [(x.tolist(), s.tolist(), c.tolist()) for x, s, c in dets]))
        elif cmd == "time":
            batch, seconds = arg
            latencies: list[float] = []
            started = time.perf_counter()
            while time.perf_counter() - started < seconds or len(latencies) < 2:
                chunk = [images[(cursor + k) % len(images)] for k in range(batch)]
                cursor += batch
                t0 = time.perf_counter()
                run(chunk)
                latencies.append(time.perf_counter() - t0)
            conn.send(("time", latencies))


class Backend:
    """The parent's handle on one backend process."""

    def __init__(self, name: str, paths: dict[str, str], job: dict[str, Any]) -> None:
        ctx = mp.get_context("spawn")
        self.name = name
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(name, paths, job, child), daemon=True)
        self.proc.start()
        self.error: str | None = None

    def wait_ready(self) -> None:
        kind, payload = self.conn.recv()
        if kind == "error":
            self.error = payload

    def ask(self, cmd: str, arg: Any = None) -> Any:
        self.conn.send((cmd, arg))
        return self.conn.recv()[1]

    def stop(self) -> float:
        rss = self.ask("stop") if self.error is None else float("nan")
        self.proc.join(timeout=30)
        return rss


# ---- accuracy -------------------------------------------------------------------------------------------


def labelled_val_scans(count: int) -> list[tuple[Path, np.ndarray, np.ndarray]]:
    """(image, boxes, taxonomy ids) for SIXray val scans, byte-identical copies merged into one sample."""
    from xscreen.vision.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    groups: dict[str, tuple[Path, list]] = {}
    for img in sorted((DATA / "val").glob("*.jpg")):
        digest = hashlib.sha256(img.read_bytes()).hexdigest()
        xml = DATA / "Annotation" / f"{img.stem}.xml"
        rows = []
        if xml.exists():
            for obj in ET.parse(xml).getroot().iter("object"):
                name = SIXRAY_TO_TAXONOMY.get(obj.findtext("name", "").strip())
                bb = obj.find("bndbox")
                if name is None or bb is None:
                    continue
                rows.append([float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")] + [taxonomy.id_of(name)])
        path, acc = groups.setdefault(digest, (img, []))
        acc.extend(r for r in rows if r not in acc)
    out = []
    for path, rows in list(groups.values())[:count]:
        arr = np.array(rows, np.float32).reshape(-1, 5)
        out.append((path, arr[:, :4], arr[:, 4].astype(np.int64)))
    return out


def ap50(predictions: list[tuple], truths: list[tuple[np.ndarray, np.ndarray]]) -> dict[int, float]:
    """Per-class AP at IoU 0.5 (all-point interpolated precision-recall area), classes with ground truth only."""
    from xscreen.vision.postprocess import box_iou_one

    result = {}
    for cls in sorted({int(c) for _, ids in truths for c in ids}):
        scored, n_gt = [], 0
        for (xyxy, scores, ids), (gt_boxes, gt_ids) in zip(predictions, truths):
            gt = gt_boxes[gt_ids == cls]
            n_gt += len(gt)
            xyxy, scores, ids = np.asarray(xyxy).reshape(-1, 4), np.asarray(scores), np.asarray(ids)
            mask = ids == cls
            order = np.argsort(-scores[mask])
            used = np.zeros(len(gt), bool)
            for box, score in zip(xyxy[mask][order], scores[mask][order]):
                hit = False
                if len(gt):
                    ious = box_iou_one(box, gt)
                    ious[used] = 0
                    j = int(ious.argmax())
                    if ious[j] >= 0.5:
                        used[j] = hit = True
                scored.append((score, hit))
        if n_gt == 0:
            continue
        scored.sort(key=lambda t: -t[0])
        tp = np.cumsum([h for _, h in scored]) if scored else np.zeros(0)
        fp = np.cumsum([not h for _, h in scored]) if scored else np.zeros(0)
        recall = np.concatenate([[0], tp / n_gt, [1]]) if scored else np.array([0, 1])
        precision = np.concatenate([[1], tp / np.maximum(tp + fp, 1), [0]]) if scored else np.array([1, 0])
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        result[cls] = float(np.sum(np.diff(recall) * precision[1:]))
    return result


def int8_drift(paths: dict[str, str], images: list[Path]) -> dict[str, float]:
    """How far the INT8 raw outputs move from fp32 on the same preprocessed scans."""
    from xscreen.vision.engine import Engine
    from xscreen.vision.io import read_scan

    fp32 = Engine.load(Path(paths["onnx"]), models_dir=Path(paths["onnx"]).parent, providers=["CPUExecutionProvider"])
    int8 = Engine.load(Path(paths["int8"]), models_dir=Path(paths["int8"]).parent, providers=["CPUExecutionProvider"])
    box, score = [], []
    for p in images:
        blob, _ = fp32.preprocess([read_scan(p.read_bytes()).pixels])
        a = fp32.session.run(None, {fp32.input_name: blob})[0]
        b = int8.session.run(None, {int8.input_name: blob})[0]
        box.append(float(np.abs(a[:, :4] - b[:, :4]).mean()))
        score.append(float(np.abs(a[:, 4:] - b[:, 4:]).max()))
    return {"mean_abs_box_delta_px": float(np.mean(box)), "max_abs_score_delta": float(np.max(score))}


# ---- report ---------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()}-core {cpu}, no GPU, Linux; load average at start {os.getloadavg()[0]:.1f} (shared machine)"


def render(results: dict[str, dict], meta: dict[str, Any]) -> str:
    lines = [
        "# Engine benchmark",
        "",
        f"- Date: {meta['date']}; machine: {meta['machine']}.",
        f"- Model: {meta['arch']}, imgsz {meta['imgsz']}, ONNX opset from ultralytics export (dynamic batch); "
        f"INT8: onnxruntime static QDQ (per-channel int8 weights, uint8 activations, min-max on {meta['calib']} scans; quantisation took {meta['quantize_s']} s).",
        f"- Inputs: {meta['images']} real SIXray scans of mixed sizes, cycled. Each backend lives in its own process (peak RSS is its own, imports included); "
        f"they take turns of >= {meta['min_seconds']} s, {meta['rounds']} rounds in alternating order. images/s: median of rounds (best round in brackets); latency: all calls.",
        f"- Thresholds: conf {meta['conf']}, NMS IoU {meta['iou']}. ultralytics predict runs with its defaults (minimal-rectangle letterbox for single images).",
        "",
        "| backend | batch | images/s | p50 ms/call | p99 ms/call | peak RSS MB | x ultralytics-pt |",
        "|---|---|---|---|---|---|---|",
    ]
    for batch in meta["batches"]:
        base = results.get("ultralytics-pt", {}).get(f"b{batch}", {}).get("images_per_s")
        for name in BACKENDS:
            r = results.get(name, {})
            if "error" in r:
                lines.append(f"| {name} | {batch} | error: {r['error']} | | | | |")
                continue
            m = r.get(f"b{batch}")
            if not m:
                continue
            ratio = f"{m['images_per_s'] / base:.2f}" if base else ""
            lines.append(f"| {name} | {batch} | {m['images_per_s']:.2f} ({m['best_images_per_s']:.2f}) | {m['p50_ms']:.0f} | {m['p99_ms']:.0f} | {r['peak_rss_mb']:.0f} | {ratio} |")
    lines += ["", "## Accuracy", ""]
    if meta.get("ap50"):
        lines += [f"AP50 on {meta['eval_count']} labelled SIXray val scans (firearm, knife, tool), conf {meta['eval_conf']}:", "", "| backend | mAP50 | per class |", "|---|---|---|"]
        for name, per in meta["ap50"].items():
            per_s = ", ".join(f"{k} {v:.3f}" for k, v in per.items())
            lines.append(f"| {name} | {np.mean(list(per.values())) if per else float('nan'):.3f} | {per_s} |")
    else:
        lines.append("No trained weights given (`--weights`): a randomly initialised model has no accuracy to compare; only the INT8 output drift below is measured.")
    drift = meta["int8_drift"]
    lines += ["", f"INT8 vs fp32 raw outputs on the same inputs: mean |box delta| {drift['mean_abs_box_delta_px']:.2f} px, max |score delta| {drift['max_abs_score_delta']:.4f}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, help="trained ultralytics .pt (default: random-init YOLO11n)")
    parser.add_argument("--imgsz", type=int, default=416)
    parser.add_argument("--images", type=int, default=16, help="real scans cycled through the timing loops")
    parser.add_argument("--calib", type=int, default=32, help="calibration scans for INT8 (SIXray train)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--min-seconds", type=float, default=2.0, help="seconds per backend per turn")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--eval", type=int, default=0, help="labelled val scans for AP50 (needs --weights)")
    parser.add_argument("--conf", type=float, default=0.25)
    parser.add_argument("--iou", type=float, default=0.45)
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="write raw results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    workroot = Path(tempfile.mkdtemp(prefix="xscreen-bench-engine-"))
    os.environ.setdefault("YOLO_CONFIG_DIR", str(workroot / "yolo"))
    try:
        calib = sorted((DATA / "train").glob("*.jpg"))[: args.calib]
        images = sorted((DATA / "val").glob("*.jpg"))[: args.images]
        paths = prepare_model(workroot / "model", weights=args.weights, imgsz=args.imgsz, calib=calib, conf=args.conf, iou=args.iou)
        eval_set = labelled_val_scans(args.eval) if args.eval and args.weights else []
        job = {
            "images": [str(p) for p in images], "imgsz": args.imgsz, "conf": args.conf, "iou": args.iou,
            "batches": args.batches, "min_seconds": args.min_seconds, "yolo_config_dir": os.environ["YOLO_CONFIG_DIR"],
        }
        backends = [Backend(name, paths, job) for name in args.backends]  # load in parallel, time one at a time
        for b in backends:
            b.wait_ready()
        ap: dict[str, dict[str, float]] = {}
        if eval_set:
            from xscreen.vision.taxonomy import load_taxonomy

            taxonomy = load_taxonomy()
            for b in backends:
                if b.error is None:
                    logger.info("accuracy: %s", b.name)
                    per = ap50(b.ask("eval", [str(p) for p, _, _ in eval_set]), [(bx, c) for _, bx, c in eval_set])
                    ap[b.name] = {taxonomy.by_id(k).name: v for k, v in per.items()}
        # Many short turns, the order reversed every round: the shared machine's load changes by the minute,
        # and every backend should see the quiet and the busy moments alike.
        rounds: dict[tuple[str, int], list[list[float]]] = {}
        for round_ in range(args.rounds):
            turn = [(b, batch) for b in backends for batch in args.batches if b.error is None]
            for b, batch in turn if round_ % 2 == 0 else reversed(turn):
                rounds.setdefault((b.name, batch), []).append(b.ask("time", (batch, args.min_seconds)))
            logger.info("round %d/%d done", round_ + 1, args.rounds)
        results: dict[str, dict] = {}
        for b in backends:
            results[b.name] = {"error": b.error} if b.error else {"peak_rss_mb": b.stop()}
            for batch in args.batches:
                per_round = rounds.get((b.name, batch))
                if not per_round:
                    continue
                rates = [batch * len(lat) / sum(lat) for lat in per_round]
                calls = [x for lat in per_round for x in lat]
                results[b.name][f"b{batch}"] = {
                    "images_per_s": float(np.median(rates)),
                    "best_images_per_s": float(max(rates)),
                    "p50_ms": 1000 * float(np.percentile(calls, 50)),
                    "p99_ms": 1000 * float(np.percentile(calls, 99)),
                    "calls": len(calls),
                }
        meta = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "arch": paths["arch"],
            "imgsz": args.imgsz, "calib": len(calib), "quantize_s": paths["quantize_s"], "images": len(images),
            "rounds": args.rounds, "min_seconds": args.min_seconds, "conf": args.conf, "iou": args.iou, "batches": args.batches,
            "ap50": ap, "eval_count": len(eval_set), "eval_conf": 0.001, "int8_drift": int8_drift(paths, images[:4]),
        }
        report = render(results, meta)
        print(report)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(report)
        if args.json:
            args.json.write_text(json.dumps({"results": results, "meta": meta}, indent=2, default=str))
    finally:
        shutil.rmtree(workroot, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
