"""The root of the `xscreen` command: pure assembly. Each package owns its commands and registers them here.

Package CLIs import their heavy dependencies (torch, onnxruntime, fastapi) inside the commands, so
`xscreen --help` stays fast and a serving host without torch can still run every serving command. What the
package CLIs share (running a command body, exit codes, tables) is `xscreen.clitools`; nothing imports this
module but the `xscreen` entry point and tests.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Optional

import typer

from xscreen import __version__
from xscreen.clitools import OneLineErrors

app = typer.Typer(
    name="xscreen",
    help="X-ray screening of mail and parcels for drugs, firearms and gun parts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=OneLineErrors,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"xscreen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
    version: Optional[bool] = typer.Option(None, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# Each module exposes `register(app)`; a package installed without one of them simply lacks its commands.
COMMAND_MODULES = (
    "xscreen.doctor",  # doctor
    "xscreen.vision.cli",  # predict
    "xscreen.datasets.synth.cli",  # synth, synth-tip
    "xscreen.datasets.cli",  # data import|build|stats
    "xscreen.training.cli",  # train, evaluate, export, models list|show|promote
    "xscreen.serving.cli",  # serve, keys, reviews
    "xscreen.serving.batch.cli",  # batch run|diff
)

for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and _name.startswith(exc.name):
            continue  # that package (or its cli module) is not part of this build
        raise
    _module.register(app)


if __name__ == "__main__":  # python -m xscreen.cli (a frozen snapshot run, see scripts/snapshot.sh)
    app()
