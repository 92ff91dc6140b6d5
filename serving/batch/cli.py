"""`xscreen batch`: re-screen archived scans (`xscreen batch SRC --out DIR`) and compare two runs
(`xscreen batch diff RUN_A RUN_B`).

`batch` is a command group whose default command is `run`: when the first word after `batch` is not a
subcommand name, `run` is assumed, so `xscreen batch SRC ...` and `xscreen batch run SRC ...` are the
same. A source literally named `diff` or `run` needs the explicit form: `xscreen batch run ./diff`.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from xscreen.clitools import EXIT_INPUT_ERRORS, run_command, table


class EngineChoice(str, Enum):
    local = "local"
    ray = "ray"


class _RunByDefault(TyperGroup):
    """A group that treats an unknown first word as the source of its `run` command."""

    default_command = "run"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: the click typer runs (typer 0.2x vendors its own)
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


batch_app = typer.Typer(
    cls=_RunByDefault,
    name="batch",
    help="Re-screen archived scans with a model (xscreen batch SRC --out DIR), or compare two runs (xscreen batch diff A B).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")


def screening_rate(task: Any) -> float | None:
    """The bar's rate as the summary computes it: scans screened by this attempt over the seconds since
    screening started. rich's own speed is a 30-second moving window, which skipped Ray's start-up: the bar
    said 19.3 scans/s where the summary said 2.5."""
    seconds = task.finished_time if task.finished_time is not None else task.elapsed
    screened = task.completed - task.fields.get("start_done", 0)
    return screened / seconds if seconds and screened > 0 else None


def _progress_bar() -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = screening_rate(task)
            return Text(f"{speed:.1f} scans/s" if speed else "-- scans/s", style="progress.data.speed")

    return Progress(
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


@batch_app.command("run")
def run_cmd(
    src: str = typer.Argument(..., help="Directory tree, glob pattern, list file (.txt/.lst), or fsspec URL (s3://..., file://...)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (results.parquet, manifest, report)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model reference NAME[:VERSION]; default: settings.default_model."),
    engine: EngineChoice = typer.Option(EngineChoice.local, "--engine", help="local threads, or Ray Data."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster to join (ray://host:10001 or auto); needs --engine ray."),
    workers: int = typer.Option(0, "--workers", "-w", min=0, help="Decode threads (local) or engine actors (ray); 0: from the CPU count."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Scans per engine call; default: settings.max_batch_size."),
    save_annotated: bool = typer.Option(False, "--save-annotated", help="Write an annotated PNG of every flagged scan to OUT/annotated/."),
    resume: bool = typer.Option(False, "--resume", help="Finish the run already in --out (same model and policy), skipping finished scans."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Also write results.jsonl."),
    commit_every: int = typer.Option(256, "--commit-every", min=1, help="Rows per committed part: the most a kill costs in re-screening."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Decision policy file; default: settings.policy_file."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Model variant: fp32, int8 (CPU) or fp16 (GPU); default: settings.variant."),
    json_out: bool = typer.Option(False, "--json", help="Print the run summary as JSON on stdout."),
    allow_errors: bool = typer.Option(False, "--allow-errors", help="Exit 0 even when some scans could not be screened (their rows hold the error)."),
) -> None:
    """Screen every scan in SRC and write one Parquet row per scan, resumably.

    Exits 1 when some scans could not be screened (after all the others, rows written), unless --allow-errors.
    """
    from xscreen.serving.batch.run import BatchOptions, run
    from xscreen.settings import get_settings

    settings = run_command(get_settings)
    try:
        options = BatchOptions(
            src=src,
            out=out,
            models_dir=settings.models_dir,
            policy_file=policy or settings.policy_file,
            model=model or settings.default_model,
            engine=engine.value,
            address=address,
            workers=workers,
            batch_size=batch_size or settings.max_batch_size,
            save_annotated=save_annotated,
            resume=resume,
            jsonl=jsonl,
            commit_every=commit_every,
            max_pixels=settings.max_image_pixels,
            providers=settings.providers,
            intra_op_threads=settings.intra_op_threads,
            instances=settings.engine_instances,
            trt_cache_dir=settings.effective_trt_cache_dir,
            variant=variant or settings.variant,  # type: ignore[arg-type]  # checked in BatchOptions.__post_init__
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    def body() -> Any:
        with _progress_bar() as bar:
            task = bar.add_task("screening", total=None)
            start_done: int | None = None

            def progress(done: int, total: int) -> None:
                nonlocal start_done
                if start_done is None or done == start_done:
                    # (Re)start the clock while nothing new is done: `run` reports again once the model is
                    # loaded, where the summary's clock starts. Scans of an earlier attempt never count.
                    start_done = done
                    bar.reset(task, total=total, completed=done, start_done=done)
                else:
                    bar.update(task, completed=done, total=total)

            return run(options, progress=progress)

    summary = run_command(body)
    if json_out:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        _print_summary(summary)
    if summary.errors and not allow_errors:
        raise typer.Exit(EXIT_INPUT_ERRORS)


def _print_summary(summary: Any) -> None:
    # Sentences as plain lines (typer.echo): rich wraps at the terminal's width, splitting the paths in them.
    decisions = ", ".join(f"{v} {n}" for v, n in summary.by_decision.items()) or "none"
    typer.echo(
        f"{summary.total} scans ({summary.skipped} from an earlier attempt, {summary.screened} now, "
        f"{summary.scans_per_s:.1f} scans/s) with {summary.model}, policy {summary.policy_version}: {decisions}; "
        f"{summary.errors} errors"
    )
    typer.echo(f"results: {summary.out / 'results.parquet'}   report: {summary.out / 'report.md'}")


@batch_app.command("diff")
def diff_command(
    run_a: Path = typer.Argument(..., help="First run directory (or its results.parquet), e.g. the old model."),
    run_b: Path = typer.Argument(..., help="Second run directory, e.g. the new model."),
    limit: int = typer.Option(50, "--limit", min=0, help="Changed scans to list (all go to --out and --json)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write every changed scan to a .csv or .parquet file."),
    json_out: bool = typer.Option(False, "--json", help="Print the whole diff as JSON on stdout."),
) -> None:
    """Which scans change decision between two runs: escalations first, for reopening cases."""
    from xscreen.serving.batch.diff import diff_runs

    result = run_command(lambda: diff_runs(run_a, run_b))
    if out is not None:
        _write_changes(result, out)
    if json_out:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    from rich.console import Console

    console = Console()
    a, b = result.run_a, result.run_b
    typer.echo(f"A: {a['run']} ({a['model']}, policy {a['policy_version']})\nB: {b['run']} ({b['model']}, policy {b['policy_version']})")
    moves = ", ".join(f"{k} {n}" for k, n in result.transitions.items()) or "none"
    typer.echo(f"{len(result.changed)} of {result.compared} scans change decision: {moves}")
    if result.only_in_a or result.only_in_b or result.content_changed:
        typer.echo(
            f"not compared: {len(result.only_in_a)} only in A, {len(result.only_in_b)} only in B, "
            f"{len(result.content_changed)} whose file changed between the runs"
        )
    if result.changed and limit:
        console.print(changes_table(result.changed[:limit]))
        if len(result.changed) > limit:
            typer.echo(f"... {len(result.changed) - limit} more (--limit, --out, --json)")


def changes_table(changed: list[Any]) -> Any:
    def fmt(score: float | None) -> str:
        return "" if score is None else f"{score:.3f}"

    out = table("source", "A", "B", "max score A", "max score B", "alarming classes in B")
    for c in changed:
        out.add_row(c.source, c.decision_a, c.decision_b, fmt(c.max_score_a), fmt(c.max_score_b), ", ".join(c.classes_b))
    return out


def _write_changes(result: Any, out: Path) -> None:
    import pyarrow as pa

    rows = [{**c, "classes_a": ",".join(c["classes_a"]), "classes_b": ",".join(c["classes_b"])} for c in result.to_dict()["changed"]]
    table = pa.Table.from_pylist(rows) if rows else pa.table({"source": pa.array([], pa.string())})
    if out.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    elif out.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, out)
    else:
        raise typer.BadParameter(f"--out must end in .csv or .parquet, got {out.name}")
