"""`sco-etl rates`: a catch-up or a backfill, with a progress line instead of log lines."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sco_etl.flows.cli.common import DateOption, _date, _fail, console, errors
from sco_etl.flows.cli.server import use_background_server
from sco_etl.schemas.errors import ScoEtlError


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
    start: DateOption = None,
    end: DateOption = None,
    currencies: Annotated[str | None, typer.Option(help="ISO codes, e.g. CNY,KZT")] = None,
) -> None:
    """Ingest CBR rates: catch up since the last stored date, or backfill --start..--end."""
    use_background_server()
    from sco_etl.flows.rates import ingest_rates

    codes = [c for c in currencies.split(",") if c.strip()] if currencies else None
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
            summary = ingest_rates(start=_date(start), end=_date(end), currencies=codes)
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
