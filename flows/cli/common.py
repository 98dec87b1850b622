"""What every `sco-etl` command shares: the consoles, date and moment options, failing."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from sco_etl.flows.cli import run_log
from sco_etl.flows.cli.errors import explain
from sco_etl.tasks.cbr import settings as cbr_settings

console = Console()
errors = Console(stderr=True)


@dataclass
class Run:
    """The command being run, set by the app's callback: what a failure message names."""

    command: str = "sco-etl"
    log_file: Path | None = None
    verbose: bool = False


RUN = Run()

DateOption = Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])]


def _fail(error: Exception) -> None:
    report_failure(error)
    raise typer.Exit(1)


def report_failure(error: BaseException) -> None:
    """Log `error` with its traceback to the run's log; print the short paragraph."""
    if RUN.log_file:
        run_log.record(error, RUN.log_file)  # on the terminal too with --verbose
    cbr_url = os.environ.get("SCO_ETL_CBR_URL") or cbr_settings.CBR_URL
    lines = explain(error, RUN.command, RUN.log_file, cbr_url, RUN.verbose)
    # soft_wrap: the terminal wraps long URLs; rich would cut the paragraph into more lines.
    errors.print("[bold red]error:[/] " + escape(lines[0]), soft_wrap=True, highlight=False)
    for line in lines[1:]:
        errors.print(escape(line), soft_wrap=True, highlight=False)


def _date(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


KnownAtOption = Annotated[str | None, typer.Option(
    "--known-at", help="answer as the warehouse stood at this moment (ISO time, e.g. "
                       "2025-04-01T18:00+03:00)")]


def _moment(value: str | None) -> str | None:
    """An ISO moment, zone-aware (a bare time is UTC), as DuckLake's SNAPSHOT_TIME wants it."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        _fail(ValueError(f"--known-at/--since must be an ISO time like 2025-04-01T18:00+03:00, "
                         f"not {value!r}"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat()


