"""The write side of the rates work: one transaction per run, gaps, the failure ledger."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas import CURRENCIES, LOADS, QUARANTINE, RATE_REVISIONS, RATES, UNPUBLISHED_DATES
from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.errors import ScoEtlError
from sco_etl.schemas.table import validate
from sco_etl.tasks.cbr.currencies import CurrencySet
from sco_etl.tasks.cbr.extract import CheckedRates
from sco_etl.tasks.cbr.gaps import missing_publication_dates
from sco_etl.tasks.cbr.planning import Window
from sco_etl.tasks.cbr.run_plan import RatesPlan
from sco_etl.tasks.ledger import LoadCounts, load_row, quarantine_rows
from sco_etl.tasks.run import Run
from sco_etl.warehouse import Warehouse, Writer

log = logging.getLogger(__name__)


@dataclass
class RatesWritten(LoadCounts):
    """What one run changed in the warehouse."""

    rows_written: int
    missing_dates: list[dt.date]
    unquoted_codes: list[str]


def write_rates(warehouse: Warehouse, checked: CheckedRates, plan: RatesPlan, run: Run,
                requests: int) -> RatesWritten:
    """Upsert the rows, log revisions, refresh the directory, quarantine rejects, add a load row.

    All of it is one transaction: on any failure the warehouse stays as it was.
    """
    validated, unpublished = checked.validated, checked.unpublished
    window, currency_set = plan.window, plan.currency_set
    # A directory entry that breaks its declared checks (a code that is no ISO code, an ID
    # that is no CBR ID) is quarantined, never stored (issue 5).
    listed = validate(CURRENCIES, checked.directory.to_table())

    def apply(writer: Writer) -> RatesWritten:
        result = writer.upsert(RATES, validated.rows)
        writer.append(UNPUBLISHED_DATES, unpublished)
        revisions = _revisions(result.replaced, validated.rows, run)
        writer.append(RATE_REVISIONS, revisions)
        writer.replace(CURRENCIES, _merge_directory(writer.read(CURRENCIES), listed.rows))
        if listed.rejected:
            writer.append(QUARANTINE, quarantine_rows("currencies", listed.rejected, run))
        if validated.rejected:
            writer.append(QUARANTINE, quarantine_rows("rates", validated.rejected, run))
        missing = _missing_dates(writer, window)
        message = _message(result.inserted, result.updated, len(validated.rejected), missing,
                           currency_set)
        writer.append(LOADS, load_row(run, "completed", result.inserted + result.updated,
                                      len(validated.rejected), requests, message))
        return RatesWritten(
            inserted=result.inserted, updated=result.updated, unchanged=result.unchanged,
            rejected=len(validated.rejected), revisions=revisions.num_rows,
            partitions=result.partitions, rows_written=writer.rows_written,
            missing_dates=missing, unquoted_codes=list(currency_set.unquoted_codes),
        )

    return warehouse.transaction(apply, message=f"{run.flow} {run.run_id}")


def record_failure(warehouse: Warehouse, run: Run, error: BaseException,
                   requests: int | None) -> None:
    """A failed run leaves its data untouched and says why in the loads ledger.

    Best effort: if even that cannot be written (another writer holds the lock, the disk is
    full), it is logged, and the run's own error is what the user sees.
    """
    message = f"{type(error).__name__}: {error}"
    row = load_row(run, "failed", 0, 0, requests, message)
    try:
        warehouse.transaction(lambda writer: writer.append(LOADS, row),
                              message=f"{run.flow} {run.run_id} failed")
    except (ScoEtlError, OSError) as ledger_error:
        log.warning("could not record the failed run in the loads ledger: %s", ledger_error)


def _revisions(replaced: pa.Table, new_rows: pa.Table, run: Run) -> pa.Table:
    if not replaced.num_rows:
        return RATE_REVISIONS.empty()
    old = replaced.to_pylist()
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


def _merge_directory(stored: pa.Table, listed: pa.Table) -> pa.Table:
    # Stored IDs the current directory no longer lists stay: their history still refers to them.
    merged = {row["cbr_id"]: row for row in stored.to_pylist()}
    merged.update({row["cbr_id"]: row for row in listed.to_pylist()})
    return pa.Table.from_pylist([merged[k] for k in sorted(merged)],
                                schema=CURRENCIES.arrow_schema)


def _missing_dates(writer: Writer, window: Window) -> list[dt.date]:
    """Publication dates in the window for which the warehouse, this run included, has no rates."""
    # Distinct dates: a backfill brings ~100,000 rows but only ~12,000 dates.
    present = set(writer.distinct(RATES, "rate_date"))
    if not present:
        return []
    known = set(writer.distinct(UNPUBLISHED_DATES, "rate_date"))
    last = min(window.end, max(present))
    return missing_publication_dates(present, window.start, last, known)


def _message(inserted: int, updated: int, rejected: int, missing: list[dt.date],
             currency_set: CurrencySet) -> str:
    parts = [f"{inserted} new rates, {updated} revised, {rejected} rejected"]
    if missing:
        parts.append(f"{len(missing)} publication dates missing (first {missing[0]})")
    if currency_set.unquoted_codes:
        parts.append("not quoted by CBR: " + ", ".join(currency_set.unquoted_codes))
    return "; ".join(parts)
