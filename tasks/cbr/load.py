"""The write side of the rates work: one transaction per run, its result, the failure ledger."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import pyarrow as pa
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas import CURRENCIES, LOADS, QUARANTINE, RATE_REVISIONS, RATES, UNPUBLISHED_DATES
from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.errors import ScoEtlError
from sco_etl.schemas.table import validate
from sco_etl.tasks.cbr.calendar import missing_publication_dates
from sco_etl.tasks.cbr.extract import CheckedRates
from sco_etl.tasks.cbr.planning import Window
from sco_etl.tasks.cbr.run_plan import RatesPlan
from sco_etl.tasks.ledger import LoadCounts, load_row, quarantine_rows
from sco_etl.tasks.run import Run
from sco_etl.warehouse import Warehouse, Writer

log = logging.getLogger(__name__)

MISSING_SHOWN = 20
"""Missing dates listed by name in the artifact; the rest are counted."""


@dataclass
class RatesResult(LoadCounts):
    """What one rates run did: the flow's result, the command line's summary, the artifact.

    `updated` counts revisions of published values (a changed value or nominal), nothing else.
    """

    window: tuple[dt.date, dt.date]
    """First and last effective date covered."""
    requests: int
    """HTTP requests the run made, retries included."""
    rows_written: int
    missing_dates: list[dt.date]
    """Publication dates in the window with no rate stored, after this run."""
    unquoted: list[str]
    """Requested codes CBR quotes no rate for."""
    healed: list[dt.date] = field(default_factory=list)
    """Missing publication dates before the window that this catch-up asked for again."""

    def covered(self) -> str:
        """The dates the run asked for, in words: its window and the gaps it healed."""
        span = f"{self.window[0]}..{self.window[1]}"
        if not self.healed:
            return span
        return (f"{span} and {len(self.healed)} missing "
                f"{'date' if len(self.healed) == 1 else 'dates'} before it "
                f"({self.healed[0]}..{self.healed[-1]})")

    def artifact_rows(self) -> list[dict]:
        """The rows of the `rates-load` table artifact."""
        missing = ", ".join(str(day) for day in self.missing_dates[:MISSING_SHOWN])
        if len(self.missing_dates) > MISSING_SHOWN:
            missing += f" … ({len(self.missing_dates)} in all)"
        return [
            {"what": "window", "value": f"{self.window[0]} .. {self.window[1]}"},
            {"what": "missing dates before it, asked again",
             "value": f"{len(self.healed)}: {self.healed[0]} .. {self.healed[-1]}"
             if self.healed else "none"},
            {"what": "HTTP requests", "value": self.requests},
            {"what": "rates written (new)", "value": self.inserted},
            {"what": "rates revised", "value": self.updated},
            {"what": "rates unchanged", "value": self.unchanged},
            {"what": "records rejected (quarantine)", "value": self.rejected},
            {"what": "partitions rewritten", "value": ", ".join(self.partitions) or "none"},
            {"what": "publication dates missing", "value": missing or "none"},
            {"what": "not quoted by CBR", "value": ", ".join(self.unquoted) or "none"},
        ]


@task(name="write-rates", cache_policy=NO_CACHE)
def write_rates(warehouse: Warehouse, checked: CheckedRates, plan: RatesPlan,
                run: Run) -> RatesResult:
    """Upsert the rows, log revisions, refresh the directory, quarantine rejects, add a load row.

    All of it is one transaction: on any failure the warehouse stays as it was.
    """
    validated, unpublished = checked.validated, checked.unpublished
    # A directory entry that breaks its declared checks (a code that is no ISO code, an ID
    # that is no CBR ID) is quarantined, never stored (issue 5).
    listed = validate(CURRENCIES, checked.directory.to_table())
    unquoted = list(plan.currency_set.unquoted_codes)

    def apply(writer: Writer) -> RatesResult:
        upserted = writer.upsert(RATES, validated.rows)
        writer.append(UNPUBLISHED_DATES, unpublished)
        revisions = _revisions(upserted.replaced, validated.rows, run)
        writer.append(RATE_REVISIONS, revisions)
        writer.replace(CURRENCIES, _merge_directory(writer.read(CURRENCIES), listed.rows))
        if listed.rejected:
            writer.append(QUARANTINE, quarantine_rows("currencies", listed.rejected, run))
        if validated.rejected:
            writer.append(QUARANTINE, quarantine_rows("rates", validated.rejected, run))
        result = RatesResult(
            inserted=upserted.inserted, updated=upserted.updated,
            unchanged=upserted.unchanged, rejected=len(validated.rejected),
            revisions=revisions.num_rows, partitions=upserted.partitions,
            window=(plan.window.start, plan.window.end), requests=run.requests,
            rows_written=writer.rows_written, missing_dates=_missing_dates(writer, plan.window),
            unquoted=unquoted, healed=plan.gaps)
        writer.append(LOADS, load_row(run, "completed", result.inserted + result.updated,
                                      result.rejected, run.requests, _message(result)))
        return result

    return warehouse.transaction(apply, message=f"{run.flow} {run.run_id}")


@task(name="publish-rates-summary", cache_policy=NO_CACHE)
def publish_summary(result: RatesResult) -> None:
    """A table artifact of what the run wrote, rejected and found missing."""
    create_table_artifact(key="rates-load", table=result.artifact_rows(),
                          description=f"CBR rates load {result.window[0]} .. {result.window[1]}")


def record_failure(warehouse: Warehouse, run: Run, error: BaseException) -> None:
    """A failed run leaves its data untouched and says why in the loads ledger.

    Best effort: if even that cannot be written (another writer holds the lock, the disk is
    full), it is logged, and the run's own error is what the user sees.
    """
    message = f"{type(error).__name__}: {error}"
    row = load_row(run, "failed", 0, 0, run.requests, message)
    try:
        warehouse.transaction(lambda writer: writer.append(LOADS, row),
                              message=f"{run.flow} {run.run_id} failed")
    except (ScoEtlError, OSError) as ledger_error:
        log.warning("could not record the failed run in the loads ledger: %s", ledger_error)


def _revisions(replaced: pa.Table, new_rows: pa.Table, run: Run) -> pa.Table:
    if not replaced.num_rows:
        return RATE_REVISIONS.empty()
    latest = {(r["rate_date"], r["cbr_id"]): r for r in new_rows.to_pylist()}
    now = utc_now()
    rows = []
    for previous in replaced.to_pylist():
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


def _message(result: RatesResult) -> str:
    parts = [f"{result.inserted} new rates, {result.updated} revised, "
             f"{result.rejected} rejected"]
    if result.healed:
        parts.append(f"{len(result.healed)} missing dates before the window asked again "
                     f"({result.healed[0]}..{result.healed[-1]})")
    if result.missing_dates:
        parts.append(f"{len(result.missing_dates)} publication dates missing "
                     f"(first {result.missing_dates[0]})")
    if result.unquoted:
        parts.append("not quoted by CBR: " + ", ".join(result.unquoted))
    return "; ".join(parts)
