"""What every `sco-etl` command shares: the consoles, the options, and how a command fails.

Commands are registered on `Commands`, which runs each one inside `report_failure`'s rules: a
value refused by `inputs` is one line and exit status 2; a missing warehouse is one line and
exit 1; any other failure is the short paragraph of `errors.explain` and exit 1.

This module and the command modules import the heavy parts (pyarrow, DuckDB, Prefect) inside
the commands, not at the top: `sco-etl --help` and the quick commands load only what they use.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from sco_etl.flows.cli.run_log import RunLog

console = Console()
errors = Console(stderr=True)

EXIT_FAILED = 1
EXIT_INPUT = 2
"""A value refused before anything started (as click's own usage errors)."""


@dataclass
class Run:
    """The command being run, set by the app's callback: what a failure message names."""

    command: str = "sco-etl"
    log: RunLog | None = None
    """The run's log file handler (the file exists once something was logged)."""
    verbose: bool = False


RUN = Run()


class Format(enum.StrEnum):
    """How a command prints its rows: a table for people, CSV or JSON for programs."""

    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[Format, typer.Option(
    "--format", "-f", help="table (for people), csv or json (exact decimals, for programs)")]
KnownAtOption = Annotated[str | None, typer.Option(
    "--known-at", metavar="TIME", show_default=False,
    help="answer as the warehouse stood at this moment: ISO time, e.g. 2025-04-01T18:00+03:00 "
         "(no zone: UTC), from its first snapshot to now")]


def date_option(help: str) -> Any:
    """A `YYYY-MM-DD` option; `inputs.day` checks it when the command runs."""
    return typer.Option(metavar="YYYY-MM-DD", help=help, show_default=False)


class Commands(typer.Typer):
    """A Typer app whose commands fail the `sco-etl` way (see `report_failure`)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable:
        register = super().command(*args, **kwargs)
        return lambda function: register(handled(function))


def handled(function: Callable) -> Callable:
    """`function` as a command: a failure is reported and ends it with its exit status."""
    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> Any:
        RUN.command = _command_path(function.__name__)
        try:
            return function(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as error:
            raise typer.Exit(report_failure(error)) from None
    return command


def _fail(error: Exception) -> None:
    """Report `error` and end the command with its exit status."""
    raise typer.Exit(report_failure(error))


def report_failure(error: BaseException) -> int:
    """Print what failed the way its kind deserves; return the exit status.

    A refused command-line value: one line, status 2, no log. No warehouse: the one line that
    says so and how to make one, status 1. Anything else: the short paragraph of
    `errors.explain`, status 1, with the traceback in the run's log when it was unforeseen or
    the command runs flows.
    """
    from sco_etl.flows.cli import run_log
    from sco_etl.flows.cli.errors import READ_ONLY, explain
    from sco_etl.schemas.errors import InputError, NoWarehouseError, ScoEtlError

    if isinstance(error, InputError):
        _say_error(f"[bold red]error:[/] {escape(str(error))}")
        return EXIT_INPUT
    if isinstance(error, NoWarehouseError):
        _say_error(escape(str(error)))
        return EXIT_FAILED
    log_file = None
    foreseen = isinstance(error, ScoEtlError) and RUN.command in READ_ONLY
    if RUN.log is not None and not foreseen:
        log_file = run_log.record(error, RUN.log)  # on the terminal too with --verbose
    lines = explain(error, RUN.command, log_file, RUN.verbose)
    _say_error("[bold red]error:[/] " + escape(lines[0]))
    for line in lines[1:]:
        _say_error(escape(line))
    return EXIT_FAILED


def _say_error(text: str) -> None:
    # soft_wrap: the terminal wraps long URLs; rich would cut the paragraph into more lines.
    errors.print(text, soft_wrap=True, highlight=False)


def _command_path(name: str) -> str:
    """`news search` for the search command of the news group; `board` for board (the
    app's callback set `RUN.command` to the group or command it invokes)."""
    group = RUN.command.split(" ", 1)[0]
    return name if name == group or group == "sco-etl" else f"{group} {name}"
