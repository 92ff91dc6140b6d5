"""`xscreen predict PATH... [--model REF] [--json] [--save-annotated DIR]`: run a model on scan files.

Directories are searched for scan files. Each input gets one result, in input order; an input that cannot
be decoded gets an error entry instead of stopping the others, and the command then exits non-zero.
"""

from __future__ import annotations

import json
import logging
import sys
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


def predict_files(
    paths: list[Path],
    *,
    model: str | None = None,
    models_dir: Path | None = None,
    variant: str = "fp32",
    pixel_pitch_mm: float | None = None,
    tile: bool = False,
    save_annotated: Path | None = None,
) -> list[dict[str, Any]]:
    """One JSON-ready result per input file, in order; undecodable files get an `error` entry."""
    from xscreen.errors import ScanUnprocessable, XscreenError
    from xscreen.settings import get_settings
    from xscreen.vision.draw import annotated_png
    from xscreen.vision.engine import Engine
    from xscreen.vision.screening import read_scan_file, screen

    settings = get_settings()
    engine = Engine.load(
        model or settings.default_model,
        models_dir=models_dir or settings.models_dir,
        providers=settings.providers,
        variant=variant,
        intra_op_threads=settings.intra_op_threads,
    )
    if save_annotated is not None:
        save_annotated.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    batch: list[tuple[int, Any]] = []

    def flush() -> None:
        screenings = screen(engine, [scan for _, scan in batch], pixel_pitch_mm=pixel_pitch_mm, tile=tile)
        for (index, scan), done in zip(batch, screenings):
            if done.error is not None:  # the engine failed on this scan alone, as the service answers it
                message = f"the model could not process this scan ({type(done.error).__name__}: {done.error})"
                results[index]["error"] = {"code": ScanUnprocessable.code, "message": message}
                continue
            results[index]["detections"] = done.detections.to_records(engine.taxonomy)
            if save_annotated is not None:
                out = save_annotated / f"{Path(results[index]['path']).stem}.png"
                out.write_bytes(annotated_png(scan.display_rgb(), done.detections, taxonomy=engine.taxonomy))
                results[index]["annotated"] = str(out)
        batch.clear()

    for path in paths:
        entry: dict[str, Any] = {"path": str(path), "model": engine.ref}
        results.append(entry)
        try:
            scan = read_scan_file(path, max_pixels=settings.max_image_pixels)
        except XscreenError as exc:
            entry["error"] = {"code": exc.code, "message": exc.message}
            continue
        entry.update(kind=scan.kind, width=scan.width, height=scan.height)
        batch.append((len(results) - 1, scan))
        if len(batch) >= engine.max_batch_size:
            flush()
    if batch:
        flush()
    return results


def results_table(results: list[dict[str, Any]]) -> Any:
    """The human view of `predict_files`' results: the path whole (folded, never cut), then what was found."""
    from rich.markup import escape

    out = table("scan", "size", "detections", title="xscreen predict")
    for r in results:
        if "error" in r:
            out.add_row(escape(r["path"]), "", f"[red]{r['error']['code']}[/]: {escape(r['error']['message'])}")
            continue
        found = ", ".join(f"{d['class_name']} {d['score']:.2f}" for d in r["detections"]) or "[green]none[/]"
        out.add_row(escape(r["path"]), f"{r['width']}x{r['height']} {r['kind']}", found)
    return out


def predict(
    paths: list[Path] = typer.Argument(..., help="Scan files or directories of them."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Registry ref (default, NAME, NAME:V) or an .onnx path."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON list, one object per input, on stdout."),
    save_annotated: Optional[Path] = typer.Option(None, "--save-annotated", help="Write annotated PNGs into this folder."),
    variant: str = typer.Option("fp32", "--variant", help="Model variant: fp32, fp16 (GPU) or int8."),
    pixel_pitch_mm: Optional[float] = typer.Option(None, "--pixel-pitch", help="The station's pixel pitch in mm."),
    tile: bool = typer.Option(False, "--tile", help="Tiled inference for long strips (windows of the short side)."),
    allow_errors: bool = typer.Option(False, "--allow-errors", help="Exit 0 even when some inputs could not be screened (each is still reported)."),
) -> None:
    """Run a model on scan files and report what it finds.

    Exits 1 when some inputs could not be screened (the others are), unless --allow-errors.
    """
    files = expand_paths(paths)
    if not files:
        raise typer.BadParameter("no scan files found", param_hint="PATH")
    results = run_command(
        lambda: predict_files(files, model=model, variant=variant, pixel_pitch_mm=pixel_pitch_mm, tile=tile, save_annotated=save_annotated)
    )
    assert isinstance(results, list)
    if json_output:
        json.dump(results, sys.stdout)
        sys.stdout.write("\n")
    else:
        from rich.console import Console

        Console().print(results_table(results))
    if any("error" in r for r in results) and not allow_errors:
        raise typer.Exit(EXIT_INPUT_ERRORS)


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)
