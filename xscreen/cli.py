"""The root of the `xscreen` command. Each package owns its commands and registers them here.

Package CLIs import their heavy dependencies (torch, onnxruntime, fastapi) inside the commands, so
`xscreen --help` stays fast and a serving host without torch can still run every serving command.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable

import typer

from xscreen.errors import XscreenError

app = typer.Typer(
    name="xscreen",
    help="X-ray screening of mail and parcels for drugs, firearms and gun parts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# Each module exposes `register(app)`; a package installed without one of them simply lacks its commands.
COMMAND_MODULES = (
    "xscreen.doctor",  # doctor
    "xscreen.vision.cli",  # predict
    "xscreen.datasets.synth.cli",  # synth
    "xscreen.datasets.cli",  # data import|build|stats
    "xscreen.training.cli",  # train, evaluate, export, models
    "xscreen.serving.cli",  # serve, keys, reviews
    "xscreen.serving.batch.cli",  # batch
)


def _register_packages() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that package (or its cli module) is not part of this build
            raise
        module.register(app)


def one_line(message: str) -> str:
    """Collapse a message's line breaks and runs of spaces so a log line holds all of it."""
    return " ".join(message.split())


def run_command(fn: Callable[[], object]) -> object:
    """Run a command body, turning xscreen's typed errors into one sentence and an exit code."""
    try:
        return fn()
    except XscreenError as exc:
        # Plain text, one line: rich would wrap at the terminal's width (or 80 columns in logs and CI),
        # splitting the message wherever the paths in it happen to end.
        typer.echo(f"error ({exc.code}): {one_line(exc.message)}", err=True)
        raise typer.Exit(exc.exit_code) from exc


_register_packages()  # last: package CLIs import run_command from this module


if __name__ == "__main__":  # python -m xscreen.cli (a frozen snapshot run, see scripts/snapshot.sh)
    app()
