"""`sco-etl rates`: a catch-up or a backfill, with a progress line instead of log lines."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sco_etl.flows.cli.common import _fail, console, date_option, errors
from sco_etl.flows.cli.server import use_background_server


class _ProgressHandler(logging.Handler):
    """Drives a rich progress bar from the tasks' `sco_etl.progress` log records, and shows
    the HTTP seam's retries on the same line (their log lines go to the run's log file)."""

    DESCRIPTION = "fetching CBR documents"

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress
        self.task_id = None

    def emit(self, record: logging.LogRecord) -> None:
        retry = getattr(record, "retry", None)
        if retry:
            cause, attempt, attempts = retry
            self._task(None).description = (
                f"{self.DESCRIPTION} (retrying: {cause}, attempt {attempt + 1}/{attempts})")
            self.progress.refresh()
            return
        total = getattr(record, "planned", None)
        if total is not None:  # the run's plan: how many documents it will fetch
            self.progress.update(self._task(total), total=total)
        elif getattr(record, "progress", None):  # parallel fetches: one more document each
            self.progress.update(self._task(None).id, advance=record.progress)

    def _task(self, total: int | None):
        if self.task_id is None:
            self.task_id = self.progress.add_task(self.DESCRIPTION, total=total)
        return self.progress.tasks[self.task_id] if total is None else self.task_id


def rates(
    start: Annotated[str | None, date_option(
        "backfill from this day (from 1992-07-01); without dates: catch up")] = None,
    end: Annotated[str | None, date_option(
        "backfill up to this day (default: tomorrow, Moscow)")] = None,
    currencies: Annotated[str | None, typer.Option(
        metavar="CODES",
        help="ISO codes of SCO currencies (or of the stored CBR directory), e.g. CNY,KZT; "
             "default SCO_ETL_CURRENCIES, else every SCO currency")] = None,
) -> None:
    """Ingest CBR rates: catch up since the last stored date, or backfill --start..--end."""
    from sco_etl.flows.cli import inputs
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.schemas.errors import ScoEtlError

    first, last = inputs.period(start, end)
    codes = inputs.currency_codes(currencies, resolve_warehouse())
    use_background_server("sco_etl.flows.rates")
    from sco_etl.flows.rates import ingest_rates

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=errors, transient=True,
                        disable=not errors.is_terminal)  # a pipe or file gets no blank line
    handler = _ProgressHandler(progress)
    progress_log = logging.getLogger("sco_etl.progress")
    progress_log.addHandler(handler)
    progress_log.setLevel(logging.INFO)
    progress_log.propagate = False  # the bar shows it; no log line per document
    retry_log = logging.getLogger("sco_etl.tasks.http")
    retry_log.addHandler(handler)
    try:
        with progress:
            summary = ingest_rates(start=first, end=last, currencies=codes)
    except ScoEtlError as error:
        _fail(error)
    finally:
        progress_log.removeHandler(handler)
        retry_log.removeHandler(handler)
        progress_log.propagate = True
    console.print(
        f"[green]rates {summary['window'][0]}..{summary['window'][1]}:[/] "
        f"{summary['inserted']} new, {summary['updated']} revised, "
        f"{summary['unchanged']} unchanged, {summary['rejected']} rejected "
        f"({summary['requests']} requests)"
    )
    if summary["missing_dates"]:
        console.print(f"[yellow]{len(summary['missing_dates'])} publication dates missing:[/] "
                      + ", ".join(summary["missing_dates"][:10]))
    if summary["unquoted"]:
        console.print("not quoted by CBR: " + ", ".join(summary["unquoted"]))
