"""What every `sco-etl` command shares: the consoles, date and moment options, failing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)

DateOption = Annotated[dt.datetime | None, typer.Option(formats=["%Y-%m-%d"])]


def _fail(error: Exception) -> None:
    errors.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(1)


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


