"""What every package's commands share: the exit codes, running a command body with xscreen's typed errors
turned into one line and an exit code, and tables that never cut a cell.

It sits below the root CLI (`xscreen.cli`, which only assembles the packages' commands) so the package CLIs
import it and never the root.

Exit codes (README, "Errors and exit codes"):

    0  success (predict and batch: every input was screened)
    1  some inputs could not be screened (predict, batch), or another typed error
    2  bad usage or configuration (typer's own usage errors are 2 as well)
    3  the model is missing or fails its checksums
    4  a dataset is missing or malformed
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Sequence, TypeVar

import typer
from typer.core import TyperGroup

try:  # typer 0.2x vendors its own click; typer.BadParameter is that click's
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on the real click
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # type: ignore[assignment]

from xscreen.errors import ConfigError, XscreenError, validation_summary

T = TypeVar("T")

EXIT_INPUT_ERRORS = 1  # some inputs failed while the others were screened


def one_line(message: str) -> str:
    """Collapse a message's line breaks and runs of spaces so a log line holds all of it."""
    return " ".join(message.split())


def _fail(exc: XscreenError) -> typer.Exit:
    """Print `exc` as one plain line on stderr and return the Exit to raise with its exit code."""
    from pydantic import ValidationError

    message = exc.message
    cause = exc.__cause__
    if isinstance(cause, ValidationError) and str(cause) in message:  # a loader that wrapped pydantic's whole text
        message = message.replace(str(cause), validation_summary(cause.errors()))
    # Plain text, one line: rich would wrap at the terminal's width (or 80 columns in logs and CI),
    # splitting the message wherever the paths in it happen to end.
    typer.echo(f"error ({exc.code}): {one_line(message)}", err=True)
    return typer.Exit(exc.exit_code)


def run_command(fn: Callable[[], T]) -> T:
    """Run a command body, turning xscreen's typed errors into one sentence and an exit code."""
    from pydantic import ValidationError

    try:
        return fn()
    except XscreenError as exc:
        raise _fail(exc) from exc
    except ValidationError as exc:  # a model validated inside a command: never pydantic's multi-line dump
        raise _fail(ConfigError(f"invalid {exc.title}: {validation_summary(exc.errors())}")) from exc


class OneLineErrors(TyperGroup):
    """The root group: usage errors (unknown option, bad value) print as one line, like typed errors.

    typer draws them in a rich panel wrapped at the terminal's width; logs and CI then hold half a sentence
    per line. The exit codes stay click's (2 for usage errors).
    """

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
        standalone_mode: bool = True, **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:  # `xscreen` or `xscreen models` alone: the help, as typer shows it
            exc.show()
            sys.exit(exc.exit_code)
        except UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            typer.echo(f"error (usage): {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except ClickException as exc:
            typer.echo(f"error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def table(*columns: str, title: str | None = None) -> Any:
    """A rich Table that never cuts a cell with '…': a path cut in the middle names no file, a score cut to
    `0.0…` says nothing. Every column folds onto more lines instead; rich narrows the widest first, so
    short numbers keep their width. (A column `min_width` would push the table past the console's width,
    where rich crops the right edge.)
    """
    from rich.table import Table

    out = Table(title=title)
    for name in columns:
        out.add_column(name, overflow="fold")
    return out
