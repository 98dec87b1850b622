"""`sco-etl rates`: a catch-up or a backfill, with a progress line instead of log lines."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sco_etl.flows.cli.common import _fail, console, date_option, errors
from sco_etl.flows.cli.server import use_background_server


class _ProgressBar:
    """The run's `Watcher`: a rich progress bar of the documents fetched, with the HTTP seam's
    retries on the same line (their log lines go to the run's log file)."""

    DESCRIPTION = "fetching CBR documents"

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task_id = None

    def planned(self, documents: int) -> None:
        self.progress.update(self._task(), total=documents)

    def fetched(self, documents: int) -> None:
        self.progress.update(self._task(), advance=documents)

    def retrying(self, cause: str, attempt: int, attempts: int) -> None:
        self.progress.update(self._task(), description=(
            f"{self.DESCRIPTION} (retrying: {cause}, attempt {attempt + 1}/{attempts})"))

    def _task(self):
        # The bar appears with the run's first news, not while Prefect starts.
        if self.task_id is None:
            self.task_id = self.progress.add_task(self.DESCRIPTION, total=None)
        return self.task_id


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
    from sco_etl.tasks.run import watching

    first, last = inputs.period(start, end)
    codes = inputs.currency_codes(currencies, resolve_warehouse())
    use_background_server("sco_etl.flows.rates")
    from sco_etl.flows.rates import ingest_rates

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=errors, transient=True,
                        disable=not errors.is_terminal)  # a pipe or file gets no blank line
    try:
        with progress, watching(_ProgressBar(progress)):
            result = ingest_rates(start=first, end=last, currencies=codes)
    except ScoEtlError as error:
        _fail(error)
    console.print(
        f"[green]rates {result.covered()}:[/] "
        f"{result.inserted} new, {result.updated} revised, "
        f"{result.unchanged} unchanged, {result.rejected} rejected "
        f"({result.requests} requests)"
    )
    if result.missing_dates:
        console.print(f"[yellow]{len(result.missing_dates)} publication dates missing:[/] "
                      + ", ".join(str(day) for day in result.missing_dates[:10]))
    if result.unquoted:
        console.print("not quoted by CBR: " + ", ".join(result.unquoted))
