"""`xscreen predict PATH... [--model REF] [--conf --iou --imgsz --classes --max-det --device] [--policy FILE]
[--format table|json|jsonl|csv] [--save-annotated DIR] [--save-txt DIR]`: run a model on scan files.

Directories are searched for scan files. Each input gets one result, in input order, with the detections and
the policy's decision a station would make; an input that cannot be decoded gets an error entry instead of
stopping the others, and the command then exits 1 (0 with --allow-errors).
"""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from xscreen.clitools import EXIT_INPUT_ERRORS, run_command, table

logger = logging.getLogger(__name__)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; directories replaced by the scan files under them, sorted."""
    from xscreen.vision.io import SCAN_SUFFIXES

    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in SCAN_SUFFIXES)
        else:
            out.append(path)
    return out


def output_names(paths: list[Path]) -> dict[Path, Path]:
    """Each input's output path, without suffix, relative to the inputs' common folder.

    Sub-folders are kept and a name is the input's stem, so `a/x.jpg` -> `a/x`; where two inputs of one
    folder share a stem (`a/x.jpg`, `a/x.png`) both keep their whole name (`a/x.jpg`, `a/x.png`), so no
    output overwrites another (they all became one `x.png` once).
    """
    import os
    from collections import Counter

    absolute = [p.resolve() for p in paths]
    root = Path(os.path.commonpath([p.parent for p in absolute])) if absolute else Path()
    relative = [p.relative_to(root) for p in absolute]
    stems = Counter((r.parent, r.stem) for r in relative)
    return {path: (r.parent / r.stem if stems[(r.parent, r.stem)] == 1 else r) for path, r in zip(paths, relative)}


def predict_files(
    paths: list[Path],
    *,
    model: str | None = None,
    models_dir: Path | None = None,
    variant: str = "fp32",
    pixel_pitch_mm: float | None = None,
    tile: bool = False,
    save_annotated: Path | None = None,
    save_txt: Path | None = None,
    conf: float | None = None,
    iou: float | None = None,
    imgsz: int | None = None,
    classes: list[str] | None = None,
    max_det: int | None = None,
    device: str | None = None,
    policy_file: Path | None = None,
    batch: int = 1,
) -> list[dict[str, Any]]:
    """One JSON-ready result per input file, in order; undecodable files get an `error` entry.

    Each result carries the policy's `decision` (the settings' policy unless `policy_file`) on the
    detections it lists: exactly a station's with the card's thresholds, or under `conf`, `iou`,
    `classes` and `max_det` (ultralytics' meanings) when given.

    Scans are read `batch` at a time (capped by the model's batch limit) and dropped once screened, so memory
    does not grow with the number of inputs: on a CPU one at a time is fastest (docs/benchmarks.md), and the
    card's limit (32) held 32 decoded scans and a 32-image activation arena (1.7 GB for 100 scans). Up to
    `engine_instances` batches are screened at once while the next files are read (`plan_instances`).
    """
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    import numpy as np

    from xscreen.errors import ScanUnprocessable, XscreenError
    from xscreen.settings import get_settings
    from xscreen.vision.draw import annotated_png
    from xscreen.vision.engine import Engine, plan_instances
    from xscreen.vision.policy import load_policy
    from xscreen.vision.screening import read_scan_file, screen
    from xscreen.vision.yolo import Label, write_labels

    settings = get_settings()
    providers, device_id = _providers(device, settings.providers)
    instances, threads = plan_instances(settings.engine_instances, settings.intra_op_threads, providers=providers)
    engine = Engine.load(
        model or settings.default_model,
        models_dir=models_dir or settings.models_dir,
        providers=providers,
        variant=variant,
        intra_op_threads=threads,
        device_id=device_id,
        warmup=False,
    )
    if device not in (None, "cpu") and engine.provider == "CPUExecutionProvider":
        from xscreen.errors import ConfigError

        raise ConfigError(f"--device {device}: no usable CUDA GPU here (onnxruntime fell back to the CPU); use --device cpu")
    if conf is not None or iou is not None or imgsz is not None:
        engine = engine.with_thresholds(conf, iou=iou, imgsz=imgsz)
    policy = load_policy(policy_file or settings.policy_file, taxonomy=engine.taxonomy)
    wanted = None if not classes else np.array([_class_id(engine.taxonomy, c) for c in classes], np.int64)
    names = output_names(paths)
    results: list[dict[str, Any]] = []
    pending: list[tuple[int, Any]] = []  # (result index, scan) read and not yet screened
    screening: deque[Future[None]] = deque()  # batches on the engine instances, oldest first

    def finish(batch: list[tuple[int, Any]]) -> None:
        """Screen `batch` and fill in its entries (each batch its own entries and output files)."""
        screenings = screen(engine, [scan for _, scan in batch], pixel_pitch_mm=pixel_pitch_mm, tile=tile)
        for (index, scan), done in zip(batch, screenings):
            entry = results[index]
            if done.error is not None:  # the engine failed on this scan alone, as the service answers it
                message = f"the model could not process this scan ({type(done.error).__name__}: {done.error})"
                entry["error"] = {"code": ScanUnprocessable.code, "message": message}
                continue
            found = done.detections
            if wanted is not None:
                found = found[np.isin(found.class_ids, wanted)]
            if max_det is not None and len(found) > max_det:
                found = found[np.argsort(-found.scores, kind="stable")[:max_det]]
            entry["detections"] = found.to_records(engine.taxonomy)
            entry["decision"] = policy.decide(found, scan).to_dict()
            name = names[paths[index]]
            if save_annotated is not None:
                out = save_annotated / f"{name}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(annotated_png(scan.display_rgb(), found, taxonomy=engine.taxonomy))
                entry["annotated"] = str(out)
            if save_txt is not None:  # ultralytics' --save-txt: `class cx cy w h`, class ids in taxonomy order
                boxes = [(int(c), *map(float, box)) for box, _, c in found]
                labels = [Label.from_box(b, scan.width, scan.height) for b in boxes]  # type: ignore[arg-type]
                entry["labels"] = str(write_labels(save_txt / f"{name}.txt", labels))

    def flush() -> None:
        while len(screening) >= instances:
            screening.popleft().result()
        screening.append(pool.submit(finish, pending.copy()))
        pending.clear()

    pool = ThreadPoolExecutor(max_workers=instances, thread_name_prefix="predict")
    try:
        for path in paths:
            entry: dict[str, Any] = {"path": str(path), "model": engine.ref}
            results.append(entry)
            try:
                scan = read_scan_file(path, max_pixels=settings.max_image_pixels)
            except XscreenError as exc:
                entry["error"] = {"code": exc.code, "message": exc.message}
                continue
            entry.update(kind=scan.kind, width=scan.width, height=scan.height)
            pending.append((len(results) - 1, scan))
            del scan  # the only reference left is `pending`'s, dropped when its batch is screened
            if len(pending) >= min(batch, engine.max_batch_size):
                flush()
        if pending:
            flush()
        while screening:
            screening.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _providers(device: str | None, configured: list[str]) -> tuple[list[str], int]:
    """ultralytics' `--device` (cpu, 0, cuda, cuda:1) as onnxruntime providers and a GPU index."""
    from xscreen.errors import ConfigError

    if device is None:
        return configured, 0
    value = device.strip().lower()
    if value == "cpu":
        return ["CPUExecutionProvider"], 0
    index = value.removeprefix("cuda").removeprefix(":") or "0"
    if not index.isdigit():
        raise ConfigError(f"--device must be cpu, a GPU index such as 0, or cuda:N; got {device!r}")
    from xscreen.vision.engine import GPU_PROVIDERS

    # The configured GPU providers (TensorRT first where listed), or CUDA when settings name the CPU only.
    gpu = [p for p in configured if p in GPU_PROVIDERS] or ["CUDAExecutionProvider"]
    return [*gpu, "CPUExecutionProvider"], int(index)


def _class_id(taxonomy: Any, value: str) -> int:
    """A class given by taxonomy name or id (ultralytics' --classes takes ids)."""
    from xscreen.errors import ConfigError

    if value.isdigit():
        if int(value) >= len(taxonomy.names):
            raise ConfigError(f"--classes {value}: the taxonomy has class ids 0-{len(taxonomy.names) - 1}")
        return int(value)
    try:
        return int(taxonomy.id_of(value))
    except KeyError as exc:
        raise ConfigError(f"--classes {value}: {exc.args[0]}") from exc


def results_table(results: list[dict[str, Any]]) -> Any:
    """The human view of `predict_files`' results: the path whole (folded, never cut), the decision, then
    what was found."""
    from rich.markup import escape

    colours = {"clear": "green", "inspect": "yellow", "hold": "red"}
    out = table("scan", "size", "decision", "detections", title="xscreen predict")
    for r in results:
        if "error" in r:
            out.add_row(escape(r["path"]), "", "[red]error[/]", f"{r['error']['code']}: {escape(r['error']['message'])}")
            continue
        verdict = r["decision"]["verdict"]
        found = ", ".join(f"{d['class_name']} {d['score']:.2f}" for d in r["detections"]) or "none"
        out.add_row(escape(r["path"]), f"{r['width']}x{r['height']} {r['kind']}", f"[{colours[verdict]}]{verdict}[/]", found)
    return out


CSV_COLUMNS = ("path", "model", "kind", "width", "height", "decision", "policy", "class_id", "class_name", "category", "score",
               "x1", "y1", "x2", "y2", "error_code", "error")


def csv_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per detection (ultralytics' save_csv), a row with empty class fields for a scan with none,
    and one for each input that failed."""
    rows = []
    for r in results:
        base = {"path": r["path"], "model": r["model"], "kind": r.get("kind"), "width": r.get("width"), "height": r.get("height")}
        if "error" in r:
            rows.append({**base, "error_code": r["error"]["code"], "error": r["error"]["message"]})
            continue
        base.update(decision=r["decision"]["verdict"], policy=r["decision"]["policy_version"])
        for d in r["detections"] or [None]:
            if d is None:
                rows.append(base)
            else:
                x1, y1, x2, y2 = d["box"]
                rows.append({**base, "class_id": d["class_id"], "class_name": d["class_name"], "category": d["category"],
                             "score": d["score"], "x1": x1, "y1": y1, "x2": x2, "y2": y2})
    return rows


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def predict(
    paths: list[Path] = typer.Argument(..., help="Scan files or directories of them."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Registry ref (default, NAME, NAME:V) or an .onnx path."),
    output_format: Format = typer.Option(Format.table, "--format", help="table (people), json (one list), jsonl (one object a line) or csv (one row per detection), on stdout."),
    json_output: bool = typer.Option(False, "--json", help="Same as --format json."),
    conf: Optional[float] = typer.Option(None, "--conf", min=0.0, max=1.0, help="Score threshold for every class (default: the card's)."),
    iou: Optional[float] = typer.Option(None, "--iou", min=0.0, max=1.0, help="NMS IoU threshold (default: the card's)."),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", min=32, help="Square input side in pixels (default: the card's)."),
    classes: Optional[list[str]] = typer.Option(None, "--classes", help="Only these classes (taxonomy names or ids); repeat or separate by commas."),
    max_det: Optional[int] = typer.Option(None, "--max-det", min=1, max=300, help="At most this many detections per scan, best first."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, or a GPU: 0, cuda, cuda:1 (default: settings.providers)."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Decision policy file (default: settings.policy_file)."),
    save_annotated: Optional[Path] = typer.Option(None, "--save-annotated", help="Write annotated PNGs into this folder (sub-folders kept)."),
    save_txt: Optional[Path] = typer.Option(None, "--save-txt", help="Write YOLO label files (class cx cy w h) into this folder."),
    variant: str = typer.Option("fp32", "--variant", help="Model variant: fp32, fp16 (GPU) or int8."),
    pixel_pitch_mm: Optional[float] = typer.Option(None, "--pixel-pitch", help="The station's pixel pitch in mm."),
    tile: bool = typer.Option(False, "--tile", help="Tiled inference for long strips (windows of the short side)."),
    batch: int = typer.Option(1, "--batch", min=1, help="Scans per engine call (capped by the model's limit); 1 is fastest on CPUs."),
    allow_errors: bool = typer.Option(False, "--allow-errors", help="Exit 0 even when some inputs could not be screened (each is still reported)."),
) -> None:
    """Run a model on scan files and report what it finds and what a station would decide (clear / inspect / hold).

    Exits 1 when some inputs could not be screened (the others are), unless --allow-errors.
    """
    files = expand_paths(paths)
    if not files:
        raise typer.BadParameter("no scan files found", param_hint="PATH")
    wanted = [c.strip() for value in classes or [] for c in value.split(",") if c.strip()]
    results = run_command(
        lambda: predict_files(
            files, model=model, variant=variant, pixel_pitch_mm=pixel_pitch_mm, tile=tile, save_annotated=save_annotated,
            save_txt=save_txt, conf=conf, iou=iou, imgsz=imgsz, classes=wanted, max_det=max_det, device=device, policy_file=policy,
            batch=batch,
        )
    )
    fmt = Format.json if json_output else output_format
    if fmt is Format.json:
        json.dump(results, sys.stdout)
        sys.stdout.write("\n")
    elif fmt is Format.jsonl:
        for r in results:
            sys.stdout.write(json.dumps(r) + "\n")
    elif fmt is Format.csv:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_rows(results))
    else:
        from rich.console import Console

        Console().print(results_table(results))
    if any("error" in r for r in results) and not allow_errors:
        raise typer.Exit(EXIT_INPUT_ERRORS)


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)
