"""`xscreen synth`: generate a synthetic X-ray dataset (see xscreen.datasets.synth.writer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from xscreen.clitools import run_command


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
    app.command("synth-tip")(synth_tip)


def synth(
    out: Path = typer.Option(..., "--out", help="Output dataset directory."),
    count: int = typer.Option(..., "--count", min=1, help="Number of scans."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes, whatever --workers."),
    config: Optional[Path] = typer.Option(None, "--config", help="Recipe YAML (default configs/synth/default.yaml)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes."),
    raw: bool = typer.Option(False, "--raw", help="Also write the 16-bit low/high channels."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Generate physically grounded synthetic X-ray scans with YOLO labels."""

    def body() -> None:
        from xscreen.datasets.synth.writer import generate_dataset

        data_yaml = generate_dataset(out, count=count, seed=seed, config=config, workers=workers, raw=raw, progress=not no_progress and not as_json)
        if as_json:
            typer.echo(json.dumps({"data_yaml": str(data_yaml), "count": count, "seed": seed}))
        else:
            typer.echo(f"wrote {count} scans: {data_yaml}", err=True)

    run_command(body)


def synth_tip(
    backgrounds: Path = typer.Option(..., "--backgrounds", exists=True, file_okay=False, help="Real scans: a built dataset (labels kept) or a folder."),
    out: Path = typer.Option(..., "--out", help="Output dataset directory."),
    count: int = typer.Option(..., "--count", min=1, help="Number of composites."),
    seed: int = typer.Option(0, "--seed"),
    pitch_mm: Optional[float] = typer.Option(None, "--pitch-mm", min=0.01, help="Pixel pitch of the real scans, if known."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """Threat image projection: composite synthetic threats into real scans."""

    def body() -> None:
        from xscreen.datasets.synth.tip import tip_dataset

        data_yaml = tip_dataset(backgrounds, out, count=count, seed=seed, pitch_mm=pitch_mm, progress=not as_json)
        if as_json:
            typer.echo(json.dumps({"data_yaml": str(data_yaml), "count": count, "seed": seed}))

    run_command(body)
