"""The read side of the rates work: fetch CBR documents and turn them into validated rows.

Plain functions; `tasks.cbr.prefect_tasks` wraps them as Prefect tasks and
`tasks.cbr.load` writes what they produce. Each fetch task builds its own HTTP client from
a `CbrSource`, so a share of a run's requests can run in another process or on another host.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import pyarrow as pa

from sco_etl.schemas import RATES, UNPUBLISHED_DATES, to_arrow, validate
from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.table import Rejection, Validated
from sco_etl.tasks.cbr import calendar
from sco_etl.tasks.cbr.client import CbrClient, CbrSource
from sco_etl.tasks.cbr.columns import rates_table
from sco_etl.tasks.cbr.currencies import CurrencySet, Directory
from sco_etl.tasks.cbr.parse import parse_daily, parse_dynamic, parse_dynamic_columns
from sco_etl.tasks.cbr.planning import DailyRequest, Request
from sco_etl.tasks.cbr.records import RateRecord
from sco_etl.tasks.cbr.settings import FETCH_TIMEOUT
from sco_etl.tasks.run import Run

progress_log = logging.getLogger("sco_etl.progress")


@dataclass
class RateBatch:
    """Rate rows of one share of a run's documents, typed but not validated, and what could
    not be read. Rows travel as an Arrow table: Prefect passes it between tasks without
    walking it."""

    rows: pa.Table
    rejected: list[Rejection]
    answered: dict[dt.date, dt.date] = field(default_factory=dict)
    """Daily requests: the date asked for → the effective date of the document CBR sent."""
    registered: dict[str, dict] = field(default_factory=dict)
    """Currency IDs the documents carried that the directory did not list, with their rows."""
    requests_made: int = 0


@dataclass
class CheckedRates:
    """A run's rows after the schema checks, with the dates CBR set no rate on."""

    validated: Validated
    unpublished: pa.Table
    directory: Directory
    """The run's directory with every ID the documents carried."""


def fetch_rates(
    source: CbrSource, requests: list[Request], directory: Directory,
    currency_set: CurrencySet, run: Run, share: int = 1,
) -> RateBatch:
    """Fetch and parse one share of the planned documents.

    Each document is parsed as soon as it arrives, while the client waits for its next slot,
    so parsing costs no time beyond the politeness interval. `share` is how many such fetches
    run at once: each paces itself so that together they keep the source's rate.

    Raises:
        SourceError: a document could not be fetched; nothing is written.
        SourceFormatError: a document is not what was asked for; nothing is written.
    """
    client = source.client(share, budget=FETCH_TIMEOUT)
    try:
        batch = parse_documents(_fetched(client, requests), directory, currency_set, run)
    except Exception as error:
        # The ledger of a failed run still counts what was asked of the source.
        error.requests_made = client.http.requests_made
        raise
    batch.requests_made = client.http.requests_made
    return batch


def _fetched(client: CbrClient, requests: list[Request]) -> Iterator[tuple[Request, bytes]]:
    for request in requests:
        if isinstance(request, DailyRequest):
            yield request, client.daily(request.on)
        else:
            yield request, client.dynamic(request.cbr_id, request.start, request.end)
        progress_log.info("fetched a CBR document", extra={"progress": 1})


def parse_documents(
    documents: Iterable[tuple[Request, bytes]], directory: Directory,
    currency_set: CurrencySet, run: Run,
) -> RateBatch:
    """Rate rows of the wanted currencies from each (request, body), in arrival order.

    A clean `XML_dynamic` of a known ID, the bulk of a backfill, goes straight to Arrow
    columns; any other document is read record by record, and each record it cannot use is
    rejected with the reason.

    Raises:
        SourceFormatError: a document is not what was asked for.
    """
    known = Directory(dict(directory.rows))
    batch = RateBatch(RATES.empty(), [])
    tables: list[pa.Table] = []
    unrepresentable: list[Rejection] = []
    ids, codes = currency_set.ids, set(currency_set.codes)
    for request, body in documents:
        if isinstance(request, DailyRequest):
            parsed = parse_daily(body)
            batch.answered[request.on] = parsed.rate_date
            # A daily document lists every currency; keep ours, by ID or by code for new IDs.
            records = [r for r in parsed.records if r.cbr_id in ids or r.char_code in codes]
        else:
            table = _dynamic_table(body, known, run)
            if table is not None:
                tables.append(table)
                continue
            parsed = parse_dynamic(body)
            records = parsed.records
        batch.rejected += [Rejection(bad.element, bad.reason) for bad in parsed.bad]
        rows = []
        for record in records:
            known.register(record)
            row = _row(record, known, isinstance(request, DailyRequest), run)
            (batch.rejected if isinstance(row, Rejection) else rows).append(row)
        table, refused = to_arrow(RATES, rows)
        tables.append(table)
        unrepresentable += refused
    batch.rows = pa.concat_tables(tables) if tables else RATES.empty()
    batch.rejected += unrepresentable
    batch.registered = {k: v for k, v in known.rows.items() if k not in directory.rows}
    return batch


def _dynamic_table(body: bytes, known: Directory, run: Run) -> pa.Table | None:
    """The fast path: rows of a clean `XML_dynamic` of a known ID, or None.

    None sends the document to the careful path, which parses it again: that happens only
    for a document with a record out of the ordinary, or of an ID the directory lacks.
    """
    columns = parse_dynamic_columns(body)
    currency = known.get(columns.cbr_id) if columns is not None else None
    if currency is None:
        return None
    return rates_table(columns, currency, run)


def validate_rates(batches: list[RateBatch], directory: Directory,
                   run: Run) -> CheckedRates:
    """Schema checks over every share; rows that fail go to quarantine with the reason."""
    rows = pa.concat_tables([b.rows for b in batches]) if batches else RATES.empty()
    rejected = [r for b in batches for r in b.rejected]
    answered = {asked: got for b in batches for asked, got in b.answered.items()}
    complete = Directory(dict(directory.rows))
    for batch in batches:
        for cbr_id, row in batch.registered.items():
            complete.rows.setdefault(cbr_id, row)
    return CheckedRates(validate(RATES, rows, rejected), _unpublished(answered, run, utc_now()),
                        complete)


def _unpublished(answered: dict[dt.date, dt.date], run: Run,
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


def _row(record: RateRecord, directory: Directory, from_daily: bool,
         run: Run) -> dict | Rejection:
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
        # One timestamp per run: shares parsed apart must give one key the same row.
        "loaded_at": run.started_at,
        "run_id": run.run_id,
    }


def _plain(record: RateRecord) -> dict:
    # RateRecord has slots, hence no __dict__ (reading it crashed the run: issue 5).
    return {k: (str(v) if v is not None else None) for k, v in asdict(record).items()}
