"""Commands: train, evaluate, calibrate, export, models list|show|derive|promote. torch loads only inside the commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from xscreen.clitools import run_command, table
from xscreen.errors import ConfigError, ModelNotFound
from xscreen.settings import get_settings

models_app = typer.Typer(help="The model registry: list, show and promote versions.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("calibrate")(calibrate)
    app.command("export")(export)
    app.add_typer(models_app, name="models")


def train(
    config: Path = typer.Option(..., "--config", help="configs/train/NAME.yaml (smoke-cpu.yaml: a CPU run of a few minutes)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Epochs (overrides the config's)."),
    imgsz: Optional[int] = typer.Option(None, "--imgsz", min=32, help="Training image side in pixels (overrides the config's)."),
    batch: Optional[int] = typer.Option(None, "--batch", min=1, help="Batch size (overrides the config's)."),
    time: Optional[float] = typer.Option(None, "--time", help="Time budget in hours (overrides epochs)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, or a CUDA index such as 0."),
    resume: bool = typer.Option(False, "--resume", help="Continue runs/train/NAME/weights/last.pt."),
    name: Optional[str] = typer.Option(None, "--name", help="Run name (default: the config's)."),
    data: Optional[Path] = typer.Option(None, "--data", help="data.yaml to train on (default: the config's)."),
    quiet: bool = typer.Option(False, "--quiet", help="No per-epoch losses and metrics (ultralytics' output)."),
) -> None:
    """Train a detector from a config (from scratch, offline); flags override the config's values."""
    from xscreen.training.train import completed_epochs, load_options, run

    def body() -> None:
        options = load_options(
            config, epochs=epochs, imgsz=imgsz, batch=batch, time=time, device=device, name=name,
            data=data.resolve() if data else None, resume=resume or None, verbose=False if quiet else None,
        )
        done = completed_epochs(options.run_dir) if options.resume else None
        if done is not None:
            typer.echo(f"{options.run_dir} is complete ({done} epochs): nothing to resume; weights in {options.run_dir / 'weights'}")
            return
        typer.echo(str(run(options)))

    run_command(body)


def export(
    weights: Path = typer.Option(..., "--weights", exists=True, dir_okay=False),
    name: str = typer.Option(..., "--name"),
    version: Optional[int] = typer.Option(None, "--version", help="Default: next free version."),
    half: bool = typer.Option(False, "--half", help="Also write model-fp16.onnx (GPU hosts)."),
    int8: bool = typer.Option(False, "--int8", help="Also write model-int8.onnx (CPU hosts); needs --calib."),
    calib: Optional[Path] = typer.Option(None, "--calib", help="Folder of representative scans for INT8 calibration."),
    parity: Optional[Path] = typer.Option(None, "--parity", help="Folder of real scans for the parity check (default: the real SIXray validation scans)."),
    no_parity: bool = typer.Option(False, "--no-parity", help="Skip the ONNX-vs-PyTorch parity check (the card records that it was skipped)."),
    parity_count: int = typer.Option(16, "--parity-count"),
    imgsz: Optional[int] = typer.Option(None, "--imgsz"),
    conf: float = typer.Option(0.25, "--conf", help="Operating score threshold stored in the card."),
    class_conf: list[str] = typer.Option([], "--class-conf", help="Per-class operating threshold, NAME=SCORE, or KIND:NAME=SCORE for scans of one kind (gray:firearm=0.3; repeat); overrides --conf."),
    metrics: Optional[Path] = typer.Option(None, "--metrics", help="`xscreen evaluate` --out dir (or one metrics.json) to store in the card."),
    data_card: Optional[Path] = typer.Option(None, "--data-card", help="Dataset card of the training data."),
    image_kind: str = typer.Option("colour", "--image-kind", help="colour or gray: what the model expects."),
    gray_display: str = typer.Option("as_is", "--gray-display", help="as_is or matched: gray scans' display brought to the training display first (docs/model.md)."),
    postprocess: Optional[Path] = typer.Option(None, "--postprocess", help="YAML of the card's `postprocess` section (configs/postprocess/): decoding rules such as firearm-vs-metal."),
) -> None:
    """Export a checkpoint to ONNX, check parity with PyTorch, and add it to the registry."""
    from xscreen.checkout import real_val_scans
    from xscreen.training.export import ExportOptions, run
    from xscreen.training.registry import load_postprocess
    from xscreen.vision.yolo import find_images

    def body() -> None:
        from typing import get_args

        from xscreen.vision.registry import GrayDisplay

        if gray_display not in get_args(GrayDisplay):
            raise ConfigError(f"--gray-display must be one of {', '.join(get_args(GrayDisplay))}, got {gray_display!r}")
        settings = get_settings()
        folder = parity or real_val_scans(settings.real_data_dir)
        images = list(find_images(folder))[:parity_count] if folder.is_dir() and not no_parity else []
        if not images and not no_parity:
            raise ConfigError(
                f"the parity check needs real scans and {folder} has none: pass --parity DIR (a folder of real scans), "
                f"set XSCREEN_REAL_DATA_DIR, or skip the check with --no-parity"
            )
        model = run(ExportOptions(
            weights=weights, name=name, version=version, models_dir=settings.models_dir, half=half, int8=int8,
            calib=calib, imgsz=imgsz, conf=conf, class_conf=_class_conf(class_conf), parity_images=images, metrics_file=metrics,
            data_card_file=data_card, image_kind=image_kind, gray_display=gray_display, check_parity=not no_parity,
            postprocess=load_postprocess(postprocess) if postprocess is not None else None,
        ))
        typer.echo(f"{model.ref} written to {model.path}")

    run_command(body)


def _class_conf(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(f"--class-conf takes NAME=SCORE or KIND:NAME=SCORE, got {pair!r}")
    return out


def evaluate(
    model: str = typer.Option(..., "--model", help="Registry ref (NAME, NAME:VERSION, default), a .pt or an .onnx file."),
    data: list[Path] = typer.Option(..., "--data", help="data.yaml; repeat for a cross-source table."),
    out: Path = typer.Option(..., "--out"),
    imgsz: Optional[int] = typer.Option(None, "--imgsz"),
    split: str = typer.Option("val", "--split"),
    gray: bool = typer.Option(False, "--gray", help="Also evaluate physics-gray renderings of each dataset."),
) -> None:
    """Per-class AP and per-category detection / false-alarm rates; one table for several datasets."""
    from xscreen.training.evaluate import EvaluateOptions, run

    def body() -> None:
        settings = get_settings()
        summary = run(EvaluateOptions(model=model, data=data, out=out, imgsz=imgsz, split=split, gray=gray, models_dir=settings.models_dir))
        console = Console()
        console.print(summary.table(width=console.width))

    run_command(body)


def calibrate(
    model: str = typer.Option(..., "--model", help="Registry ref or an .onnx file."),
    data: Path = typer.Option(..., "--data", help="data.yaml of validation scans (never trained on); each scan kind in it is calibrated on its own scans."),
    far: float = typer.Option(0.05, "--far", help="Image-level false-alarm rate allowed per class, on the scans without it."),
    gray: bool = typer.Option(False, "--gray", help="Calibrate on the scans' single-energy gray view (the thresholds of gray stations)."),
    split: str = typer.Option("val", "--split"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Per-class operating thresholds per scan kind, chosen on validation, as `export --class-conf` flags."""
    from dataclasses import asdict

    from xscreen.training.calibrate import calibrate as run
    from xscreen.training.evaluate import format_value as fmt

    rows = run_command(lambda: run(model, data, models_dir=get_settings().models_dir, far=far, gray=gray, split=split))
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    out = table("class", "kind", "threshold", "negatives", "FAR", "positives", "DR", title=f"thresholds at {far:.0%} false alarms")
    for r in rows:
        out.add_row(r.name, r.kind, fmt(r.threshold), str(r.negatives), fmt(r.false_alarm_rate), str(r.positives), fmt(r.detection_rate))
    Console().print(out)
    flags = " ".join(f"--class-conf {r.flag}" for r in rows if r.flag)
    typer.echo(f"export with: {flags}" if flags else "no class has scans both with and without it: nothing to calibrate")


@models_app.command("list")
def models_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every registered version, with the default marked."""
    from xscreen.vision.registry import default_ref, list_models, model_ref, read_card

    models_dir = run_command(get_settings).models_dir
    try:
        default = default_ref(models_dir)
    except (ModelNotFound, OSError):  # none promoted yet, or its pointer unreadable: list them unmarked
        default = None
    rows = []
    for name, version in list_models(models_dir):
        card = read_card(models_dir / name / str(version))
        ref = model_ref(name, version)  # the folder's, which is what resolves
        rows.append({"ref": ref, "default": ref == default, "architecture": card.architecture,
                     "imgsz": card.input.imgsz, "classes": len(card.classes), "variants": sorted(card.files), "created": card.created})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    Console().print(models_table(rows, title=f"models in {models_dir}"))


def models_table(rows: list[dict[str, Any]], *, title: str) -> Any:
    out = table("ref", "default", "architecture", "imgsz", "classes", "variants", "created", title=title)
    for r in rows:
        out.add_row(r["ref"], "*" if r["default"] else "", r["architecture"], str(r["imgsz"]), str(r["classes"]), ", ".join(r["variants"]), r["created"][:10])
    return out


@models_app.command("show")
def models_show(
    ref: str = typer.Argument("default"),
    as_json: bool = typer.Option(False, "--json", help="The whole card (training arguments, data card, every metric) as JSON."),
) -> None:
    """A model's card, verified against its files: the essentials, or all of it with --json."""
    from xscreen.vision.registry import resolve_model

    model = run_command(lambda: resolve_model(ref, models_dir=get_settings().models_dir))
    if as_json:
        typer.echo(model.card.model_dump_json(indent=2))
        return
    Console().print(card_summary(model.card), highlight=False)
    rows = model.card.metrics.get("summary")
    if rows:
        from xscreen.training.evaluate import metrics_table

        console = Console()
        headline = [k for k in dict.fromkeys(k for r in rows for k in r) if k in ("images", "mAP50", "mAP50-95") or k.endswith((" DR", " FAR"))]
        console.print(metrics_table(rows, title="metrics (xscreen evaluate; per class with --json)", width=console.width, metrics=headline))
    typer.echo(f"everything: xscreen models show {model.ref} --json")


def card_summary(card: Any) -> str:
    """The lines of a card a person reads first (the whole card runs to a thousand lines of JSON)."""
    t = card.thresholds
    per_class = f"; per class {', '.join(f'{n} {v}' for n, v in t.per_class.items())}" if t.per_class else ""
    per_class += "".join(f"; {kind} scans {', '.join(f'{n} {v}' for n, v in values.items())}" for kind, values in t.per_kind.items())
    parity = card.training.get("export_parity")
    lines = [
        f"{card.name}:{card.version} ({card.architecture}), created {card.created[:10]}",
        f"input: {card.input.imgsz} px {card.input.image_kind} ({card.input.channel_order}), gray scans {card.input.gray_input}/{card.input.gray_display}, "
        f"output {card.output.layout}, batch <= {card.max_batch_size}",
        f"classes ({len(card.classes)}): {', '.join(card.classes)}",
        f"thresholds: conf {t.conf}, iou {t.iou}{per_class}",
        *(f"postprocess: {r.target} against {', '.join(r.rivals)}: "
          + ", ".join(f"{k} {v}" for k, v in r.model_dump(exclude={"target", "rivals"}).items() if v not in (None, False, 0.0))
          for r in card.postprocess.confusable),
        f"files: {', '.join(sorted(card.files))}",
    ]
    if parity and parity.get("skipped"):
        lines.append("export parity: not checked (exported with --no-parity)")
    elif parity:
        lines.append(f"export parity: {parity.get('images')} scans, max box delta {parity.get('max_box_delta_px', 0):.2g} px, max score delta {parity.get('max_score_delta', 0):.2g}")
    return "\n".join(lines)


@models_app.command("derive")
def models_derive(
    ref: str = typer.Argument(..., help="NAME:VERSION whose weight files the new version shares."),
    note: str = typer.Option(..., "--note", help="Why this version exists (stored in its card)."),
    gray_display: Optional[str] = typer.Option(None, "--gray-display", help="as_is or matched (docs/model.md, 'Gray display matching')."),
    class_conf: list[str] = typer.Option([], "--class-conf", help="NAME=SCORE or KIND:NAME=SCORE (from `xscreen calibrate`); replaces the source's per-class thresholds."),
    metrics: Optional[Path] = typer.Option(None, "--metrics", help="`xscreen evaluate` --out dir measured with this card's settings."),
    postprocess: Optional[Path] = typer.Option(None, "--postprocess", help="YAML of the card's `postprocess` section (configs/postprocess/); replaces the source's."),
) -> None:
    """A new version with the same weights and an edited card: gray path, operating thresholds, decoding rules."""
    from typing import get_args

    from xscreen.training.export import class_thresholds, read_evaluation
    from xscreen.training.registry import derive_version
    from xscreen.vision.registry import GrayDisplay, resolve_model

    def body() -> Any:
        models_dir = get_settings().models_dir
        source = resolve_model(ref, models_dir=models_dir).card
        updates = {}
        if gray_display is not None:
            if gray_display not in get_args(GrayDisplay):
                raise ConfigError(f"--gray-display must be one of {', '.join(get_args(GrayDisplay))}, got {gray_display!r}")
            updates["gray_display"] = gray_display
        thresholds = None
        if class_conf:
            chosen = class_thresholds(_class_conf(class_conf), source.classes)
            thresholds = source.thresholds.model_copy(update={"per_class": chosen.per_class, "per_kind": chosen.per_kind})
        rules = None
        if postprocess is not None:
            from xscreen.training.registry import load_postprocess
            from xscreen.vision.engine import confusable_rules

            rules = load_postprocess(postprocess)
            confusable_rules(source.model_copy(update={"postprocess": rules}))  # refused now, not when a station loads it
        return derive_version(ref, models_dir=models_dir, note=note, input_updates=updates, thresholds=thresholds,
                              metrics=read_evaluation(metrics) if metrics else None, postprocess=rules)

    model = run_command(body)
    typer.echo(f"{model.ref} written to {model.path} (weights of {ref})")
    Console().print(card_summary(model.card), highlight=False)


@models_app.command("promote")
def models_promote(ref: str = typer.Argument(..., help="NAME:VERSION")) -> None:
    """Make NAME:VERSION the default the service and batch use."""
    from xscreen.training.registry import promote

    run_command(lambda: typer.echo(f"default is now {promote(ref, models_dir=get_settings().models_dir).ref}"))
