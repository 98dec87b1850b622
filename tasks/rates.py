"""The rates work: fetch CBR documents, turn them into validated rows, write them.

Plain functions; `tasks/rates_tasks.py` wraps them as Prefect tasks.
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from schemas import CURRENCIES, LOADS, QUARANTINE, RATE_REVISIONS, RATES, to_arrow, validate
from schemas.table import Rejection, Validated
from tasks import calendar
from tasks.cbr_client import CbrClient
from tasks.cbr_parse import (
    RateRecord,
    parse_daily,
    parse_directory,
    parse_dynamic,
)
from tasks.currency_set import CurrencySet, Directory
from tasks.ledger import RunInfo, load_row, quarantine_rows, utc_now
from tasks.planning import DailyRequest, Request, Window
from warehouse import Warehouse

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


@dataclass
class RatesWritten:
    """What one run changed in the warehouse."""

    inserted: int
    updated: int
    unchanged: int
    rejected: int
    revisions: int
    partitions: list[str]
    bytes_written: int
    missing_dates: list[dt.date]
    unquoted_codes: list[str]

    @property
    def written(self) -> int:
        return self.inserted + self.updated


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
    wanted = currency_set.ids
    codes = set(currency_set.codes)
    loaded_at = utc_now()
    for document in documents:
        if isinstance(document.request, DailyRequest):
            parsed = parse_daily(document.body)
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
    return RateBatch(typed, rejected + unrepresentable)


def validate_rates(batch: RateBatch) -> Validated:
    """Schema checks; rows that fail go to quarantine with the reason."""
    return validate(RATES, batch.rows, batch.rejected)


def write_rates(
    warehouse: Warehouse, validated: Validated, directory: Directory, run: RunInfo,
    window: Window, currency_set: CurrencySet, requests: int,
) -> RatesWritten:
    """Upsert the rows, log revisions, refresh the directory, quarantine rejects, add a load row.

    All of it is one transaction: on any failure the warehouse stays as it was.
    """
    with warehouse.write() as writer:
        result = writer.upsert(RATES, validated.rows)
        revisions = _revisions(result.replaced, validated.rows, run)
        writer.append(RATE_REVISIONS, revisions)
        stored = warehouse.read(CURRENCIES)
        writer.replace(CURRENCIES, _merge_directory(stored, directory))
        if validated.rejected:
            writer.append(QUARANTINE, quarantine_rows("rates", validated.rejected, run))
        missing = _missing_dates(warehouse, validated.rows, window)
        message = _message(result.inserted, result.updated, len(validated.rejected), missing,
                           currency_set)
        writer.append(LOADS, load_row(run, "completed", result.written,
                                      len(validated.rejected), requests, message))
    return RatesWritten(
        inserted=result.inserted, updated=result.updated, unchanged=result.unchanged,
        rejected=len(validated.rejected), revisions=revisions.num_rows,
        partitions=result.partitions, bytes_written=writer.bytes_written,
        missing_dates=missing, unquoted_codes=list(currency_set.unquoted_codes),
    )


def record_failure(warehouse: Warehouse, run: RunInfo, error: BaseException,
                   requests: int | None) -> None:
    """A failed run leaves its data untouched and says why in the loads ledger."""
    message = f"{type(error).__name__}: {error}"
    with warehouse.write() as writer:
        writer.append(LOADS, load_row(run, "failed", 0, 0, requests, message))


def latest_rate_date(warehouse: Warehouse) -> dt.date | None:
    dates = warehouse.read(RATES, columns=["rate_date"]).column("rate_date")
    return pc.max(dates).as_py() if len(dates) else None


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
    return {k: (str(v) if v is not None else None) for k, v in record.__dict__.items()}


def _revisions(replaced: list[pa.Table], new_rows: pa.Table, run: RunInfo) -> pa.Table:
    if not replaced:
        return RATE_REVISIONS.empty()
    old = pa.concat_tables(replaced).to_pylist()
    latest = {(r["rate_date"], r["cbr_id"]): r for r in new_rows.to_pylist()}
    now = utc_now()
    rows = []
    for previous in old:
        current = latest[(previous["rate_date"], previous["cbr_id"])]
        rows.append({
            "rate_date": previous["rate_date"], "cbr_id": previous["cbr_id"],
            "old_nominal": previous["nominal"], "old_value": previous["value"],
            "new_nominal": current["nominal"], "new_value": current["value"],
            "old_run_id": previous["run_id"], "revised_at": now, "run_id": run.run_id,
        })
    return pa.Table.from_pylist(rows, schema=RATE_REVISIONS.arrow_schema)


def _merge_directory(stored: pa.Table, directory: Directory) -> pa.Table:
    # Stored IDs the current directory no longer lists stay: their history still refers to them.
    merged = {row["cbr_id"]: row for row in stored.to_pylist()}
    merged.update(directory.rows)
    return pa.Table.from_pylist([merged[k] for k in sorted(merged)],
                                schema=CURRENCIES.arrow_schema)


def _missing_dates(warehouse: Warehouse, rows: pa.Table, window: Window) -> list[dt.date]:
    """Publication dates in the window for which neither the warehouse nor this run has rates."""
    stored = warehouse.read(RATES, columns=["rate_date"]).column("rate_date").to_pylist()
    present = set(stored) | set(rows.column("rate_date").to_pylist())
    if not present:
        return []
    last = min(window.end, max(present))
    return [d for d in calendar.publication_dates(window.start, last) if d not in present]


def _message(inserted: int, updated: int, rejected: int, missing: list[dt.date],
             currency_set: CurrencySet) -> str:
    parts = [f"{inserted} new rates, {updated} revised, {rejected} rejected"]
    if missing:
        parts.append(f"{len(missing)} publication dates missing (first {missing[0]})")
    if currency_set.unquoted_codes:
        parts.append("not quoted by CBR: " + ", ".join(currency_set.unquoted_codes))
    return "; ".join(parts)
