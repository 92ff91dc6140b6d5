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
    app.command("synth-drugs")(synth_drugs)


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


def synth_drugs(
    backgrounds: Path = typer.Option(..., "--backgrounds", exists=True, file_okay=False, help="A built dataset (`xscreen data build`): its real scans and labels."),
    out: Path = typer.Option(..., "--out", help="Output dataset directory."),
    split: str = typer.Option("train", "--split", help="Which split's scans are the backgrounds (composites keep it)."),
    count: int = typer.Option(..., "--count", min=1, help="Number of composites."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    family: str = typer.Option("train", "--family", help="train, or heldout: the families training never sees (for measurement)."),
    gray_fraction: float = typer.Option(0.3, "--gray-fraction", min=0.0, max=1.0, help="Share rendered as single-energy gray."),
    edged: float = typer.Option(0.0, "--edged", min=0.0, max=1.0,
                                help="Share with a throwing star or razor blades (labelled knife) beside the drugs: hard negatives for firearm."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
) -> None:
    """The drug data programme: drug items projected into real scans, with each label's form and visibility (docs/drugs.md)."""

    def body() -> None:
        from xscreen.datasets.synth.drug_tip import DrugTipOptions, drug_tip_dataset
        from xscreen.datasets.synth.drugs import FAMILIES
        from xscreen.errors import ConfigError

        if family not in FAMILIES:
            raise ConfigError(f"--family must be one of {', '.join(FAMILIES)}, got {family!r}")
        options = DrugTipOptions(family=family, gray_fraction=gray_fraction, edged_probability=edged)
        data_yaml = drug_tip_dataset(backgrounds, out, split=split, count=count, seed=seed, options=options, progress=not as_json)
        if as_json:
            typer.echo(json.dumps({"data_yaml": str(data_yaml), "count": count, "seed": seed, "family": family, "split": split}))
        else:
            typer.echo(f"wrote {count} drug composites ({family} family): {data_yaml}", err=True)

    run_command(body)
