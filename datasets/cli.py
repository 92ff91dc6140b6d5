"""`xscreen data import|build|stats`: bring labelled sets in, assemble training sets, describe them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from xscreen import clitools
from xscreen.clitools import run_command

console = Console(stderr=True)


data_app = typer.Typer(help="Import labelled X-ray sets, build training sets, print their statistics.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@data_app.command("import")
def import_cmd(
    fmt: str = typer.Option(..., "--format", "-f", help="voc | yolo | coco | hixray | opixray"),
    src: Path = typer.Option(..., "--src", help="Source folder (COCO: folder or .json file)."),
    out: Path = typer.Option(..., "--out", help="Folder for the imported set (replaced if it is one)."),
    names: Path = typer.Option(None, "--names", help="Class-name map YAML (configs/names/...); default: names are taxonomy names."),
    ignore_unknown: bool = typer.Option(False, "--ignore-unknown", help="Drop boxes whose names the map lacks instead of failing."),
    near_bits: int = typer.Option(4, "--near-bits", min=0, max=64, help="pHash bits within which two scans count as near-duplicates."),
    min_box: float = typer.Option(2.0, "--min-box", min=0.0, help="Boxes narrower or lower than this (px) are dropped."),
    as_json: bool = typer.Option(False, "--json", help="Print the import report as JSON on stdout."),
) -> None:
    """Import a labelled set: map class names, merge byte-identical copies, clip boxes, report near-duplicates."""
    def body() -> None:
        from xscreen.datasets.importers.imported import import_dataset
        from xscreen.datasets.importers.names import NameMap, load_name_map
        from xscreen.vision.taxonomy import load_taxonomy

        taxonomy = load_taxonomy()
        name_map = load_name_map(names, taxonomy) if names else NameMap.identity(taxonomy)
        result = import_dataset(
            fmt, src, out, name_map=name_map, taxonomy=taxonomy, ignore_unknown=ignore_unknown,
            near_duplicate_bits=near_bits, min_box_px=min_box,
        )
        r = result.report
        summary = {
            "out": str(out), "samples": len(result.samples), "classes": result.class_counts(taxonomy),
            "subsets": _count(s.subset for s in result.samples), **r.to_dict(),
        }
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
            return
        table = clitools.table("", "", title=f"imported {src} -> {out}")
        table.show_header = False
        for key, value in (
            ("files listed", r.images_listed), ("distinct scans", r.unique_images),
            ("byte-identical groups merged", f"{len(r.identical_groups)} ({r.identical_across_subsets} across source splits)"),
            ("near-duplicate pairs", len(r.near_duplicates)), ("unreadable", len(r.unreadable)),
            ("boxes read / kept", f"{r.boxes_read} / {r.boxes_kept}"), ("boxes clipped", r.boxes_clipped),
            ("boxes degenerate (dropped)", r.boxes_degenerate), ("boxes unmapped (dropped)", r.boxes_unmapped or "none"),
            ("boxes per class", summary["classes"]), ("scans per source subset", summary["subsets"]),
        ):
            table.add_row(key, str(value))
        console.print(table)

    run_command(body)


@data_app.command("build")
def build_cmd(
    config: Path = typer.Option(..., "--config", "-c", help="Build recipe (configs/data/NAME.yaml)."),
    out: Path = typer.Option(..., "--out", help="Folder for the dataset (data.yaml, images/, labels/, README.md card)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a dataset already built there."),
    workers: int = typer.Option(2, "--workers", min=1, help="Threads preparing images."),
    as_json: bool = typer.Option(False, "--json", help="Print counts as JSON on stdout."),
) -> None:
    """Assemble an ultralytics dataset from real, synthetic and composited scans."""
    def body() -> None:
        from xscreen.datasets.build import build_dataset
        from xscreen.datasets.recipe import load_recipe

        result = build_dataset(load_recipe(config), out, workers=workers, overwrite=overwrite, progress=not as_json)
        if as_json:
            typer.echo(json.dumps({"data_yaml": str(result.data_yaml), "counts": result.counts, "duplicates_across_sources": result.duplicates_across_sources}, indent=2))
            return
        table = clitools.table("source", "train", "val", "test", title=f"built {result.data_yaml}")
        for source, c in result.counts.items():
            table.add_row(source, *(str(c[s]) for s in ("train", "val", "test")))
        console.print(table)
        typer.echo(f"dataset card: {out / 'README.md'}", err=True)

    run_command(body)


@data_app.command("stats")
def stats_cmd(
    root: Path = typer.Argument(..., help="A dataset folder (data.yaml) or an imported set (samples.jsonl)."),
    plots: Path = typer.Option(None, "--plots", help="Also write PNG plots into this folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON on stdout."),
) -> None:
    """Counts per class and split, image-size and box-size statistics."""
    def body() -> None:
        from xscreen.datasets.stats import compute_stats, plot_stats, stats_markdown

        stats = compute_stats(root)
        if plots is not None:
            plot_stats(stats, plots)
        if as_json:
            typer.echo(json.dumps(stats.to_dict(), indent=2))
            return
        from rich.markdown import Markdown

        console.print(Markdown("\n".join(stats_markdown(stats))))

    run_command(body)


def _count(values) -> dict[str, int]:
    from collections import Counter

    return {str(k): v for k, v in Counter(values).most_common()}
