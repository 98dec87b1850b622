"""The read side of the rates work: fetch CBR documents, turn them into validated rows.

Plain functions; `tasks/cbr/prefect_tasks.py` wraps them as Prefect tasks, and
`tasks/cbr/load.py` writes what they produce.
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import pyarrow as pa

from schemas import RATES, UNPUBLISHED_DATES, to_arrow, validate
from schemas.table import Rejection, Validated
from tasks.cbr import calendar
from tasks.cbr.client import CbrClient
from tasks.cbr.currencies import CurrencySet, Directory
from tasks.cbr.parse import (
    RateRecord,
    parse_daily,
    parse_directory,
    parse_dynamic,
)
from tasks.cbr.planning import DailyRequest, Request
from tasks.ledger import RunInfo, utc_now

progress_log = logging.getLogger("sco_etl.progress")


@dataclass
class Fetched:
    """A document as received, with the request that produced it."""

    request: Request
    body: bytes


@dataclass
class RateBatch:
    """Rate rows of one run, typed but not yet validated, and what could not be read.

    Rows travel as an Arrow table: Prefect passes it between tasks without walking it.
    """

    rows: pa.Table
    rejected: list[Rejection]
    unpublished: pa.Table
    """Dates asked for that CBR answered with an earlier document: no rate was set on them."""


def load_directory(client: CbrClient, stored: pa.Table, refresh: bool) -> Directory:
    """The currency directory: fetched fresh (d=0 and d=1) when asked or when none is stored."""
    if not refresh and stored.num_rows:
        return Directory.from_table(stored)
    return Directory.from_entries(
        parse_directory(client.directory(monthly=False)),
        parse_directory(client.directory(monthly=True)),
    )


def fetch_documents(client: CbrClient, requests: list[Request], workers: int) -> list[Fetched]:
    """Fetch every planned document, a few at a time; any failure fails the whole fetch."""

    def fetch(request: Request) -> Fetched:
        if isinstance(request, DailyRequest):
            return Fetched(request, client.daily(request.on))
        return Fetched(request, client.dynamic(request.cbr_id, request.start, request.end))

    fetched: list[Fetched] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cbr") as pool:
        for document in pool.map(fetch, requests):
            fetched.append(document)
            progress_log.info("fetched %d/%d CBR documents", len(fetched), len(requests),
                              extra={"progress": (len(fetched), len(requests))})
    return fetched


def parse_documents(
    documents: list[Fetched], directory: Directory, currency_set: CurrencySet,
    run: RunInfo,
) -> RateBatch:
    """Parse every document into rate rows of the wanted currencies.

    Raises:
        SourceFormatError: a document is not what was asked for; nothing is written.
    """
    rows: list[dict] = []
    rejected: list[Rejection] = []
    answered: dict[dt.date, dt.date] = {}
    wanted = currency_set.ids
    codes = set(currency_set.codes)
    loaded_at = utc_now()
    for document in documents:
        if isinstance(document.request, DailyRequest):
            parsed = parse_daily(document.body)
            answered[document.request.on] = parsed.rate_date
            # A daily document lists every currency; keep ours, by ID or by code for new IDs.
            records = [r for r in parsed.records if r.cbr_id in wanted or r.char_code in codes]
        else:
            parsed = parse_dynamic(document.body)
            records = parsed.records
        rejected += [Rejection(bad.element, bad.reason) for bad in parsed.bad]
        for record in records:
            directory.register(record)
            row = _row(record, directory, isinstance(document.request, DailyRequest), run,
                       loaded_at)
            (rejected if isinstance(row, Rejection) else rows).append(row)
    typed, unrepresentable = to_arrow(RATES, rows)
    return RateBatch(typed, rejected + unrepresentable, _unpublished(answered, run, loaded_at))


def _unpublished(answered: dict[dt.date, dt.date], run: RunInfo,
                 checked_at: dt.datetime) -> pa.Table:
    # A date the rule expects, answered with an earlier document although a later one
    # exists, had no rate set (a holiday moved by decree). Tomorrow, not yet published, is
    # answered with today's document too, hence the `latest` bound.
    latest = max(answered.values(), default=None)
    rows = [{"rate_date": asked, "in_force_date": got, "checked_at": checked_at,
             "run_id": run.run_id}
            for asked, got in sorted(answered.items())
            if got < asked < latest and calendar.is_publication_date(asked)]
    return pa.Table.from_pylist(rows, schema=UNPUBLISHED_DATES.arrow_schema)


def validate_rates(batch: RateBatch) -> tuple[Validated, pa.Table]:
    """Schema checks; rows that fail go to quarantine with the reason."""
    return validate(RATES, batch.rows, batch.rejected), batch.unpublished


def _row(record: RateRecord, directory: Directory, from_daily: bool, run: RunInfo,
         loaded_at: dt.datetime) -> dict | Rejection:
    known = directory.get(record.cbr_id)
    if known is None and not record.char_code:
        return Rejection(_plain(record), f"unknown currency ID {record.cbr_id}")
    if record.published_unit_rate is not None and (
        record.published_unit_rate.normalize() != record.unit_rate.normalize()
    ):
        return Rejection(_plain(record), (
            f"VunitRate {record.published_unit_rate} disagrees with Value/Nominal "
            f"{record.unit_rate.normalize()}"
        ))
    frequency = "daily" if from_daily else (known or {}).get("frequency", "daily")
    return {
        "rate_date": record.rate_date,
        "cbr_id": record.cbr_id,
        "char_code": record.char_code or known["char_code"],
        "num_code": record.num_code or (known or {}).get("num_code"),
        "nominal": record.nominal,
        "value": record.value,
        "unit_rate": record.unit_rate,
        "frequency": frequency,
        "loaded_at": loaded_at,
        "run_id": run.run_id,
    }


def _plain(record: RateRecord) -> dict:
    # RateRecord has slots, hence no __dict__ (reading it crashed the run: issue 5).
    return {k: (str(v) if v is not None else None) for k, v in asdict(record).items()}
