"""The read side of the rates work: fetch CBR documents and turn them into validated rows.

Each fetch task builds its own HTTP client from a `CbrSource`, so a share of a run's
requests can run in another process or on another host; `tasks.cbr.load` writes what these
produce.

Every column of a rate row is a function of what CBR published and of its directory, never
of which document delivered the rate: the value and nominal come from the document, the codes
and `frequency` from the directory (`tasks.cbr.currencies`). So one rate read from
`XML_daily` and from `XML_dynamic` gives one row. Should the two documents ever give different
values for one date and ID, the day's `XML_daily` wins and the other value is quarantined,
with both named in the reason.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import sys
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas import RATES, UNPUBLISHED_DATES, validate
from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.rates import UTC_TIMESTAMP
from sco_etl.schemas.table import Rejection, Validated
from sco_etl.tasks.cbr import calendar
from sco_etl.tasks.cbr.client import CbrSource
from sco_etl.tasks.cbr.currencies import CurrencySet, Directory
from sco_etl.tasks.cbr.planning import DailyRequest, Request
from sco_etl.tasks.cbr.records import DirectoryEntry
from sco_etl.tasks.cbr.settings import FETCH_TIMEOUT
from sco_etl.tasks.run import Run

DIRECTORY_COLUMNS = ("char_code", "num_code", "frequency")
"""The columns of a rate row that come from the directory entry of its ID."""
_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


@dataclass
class RateBatch:
    """Rate rows of one share of a run's documents, typed but not validated, and what could
    not be read. Rows travel as Arrow tables: Prefect passes them between tasks without
    walking them.

    Attributes:
        daily: rows from `XML_daily` documents.
        dynamic: rows from `XML_dynamic` documents.
        rejected: records that could not be read or have no known currency.
        answered: per `XML_daily` asked, the effective date of the document CBR sent.
        quoted: per ID, the dates of the `XML_daily` documents that quoted it (a record
            of it, readable or not).
        registered: IDs the `XML_daily` documents carried that the directory did not list.
        run: the run the share reported to: the flow's own, or its copy on another process
            (a Dask worker), whose counts the flow absorbs.
    """

    daily: pa.Table
    dynamic: pa.Table
    rejected: list[Rejection]
    run: Run
    answered: dict[dt.date, dt.date] = field(default_factory=dict)
    quoted: dict[str, set[dt.date]] = field(default_factory=dict)
    registered: dict[str, DirectoryEntry] = field(default_factory=dict)


@dataclass
class CheckedRates:
    """A run's rows after the schema checks, with the dates CBR set no rate on."""

    validated: Validated
    unpublished: pa.Table
    directory: Directory
    """The run's directory with every ID the documents carried."""


# Retries and timeouts live in the HTTP seam (`tasks.http`): retries per request, since
# retrying a whole task would ask CBR again for documents it already gave; the timeout as the
# client's budget (`FETCH_TIMEOUT`), since a Prefect timeout cannot interrupt a task in a
# worker thread.
@task(name="fetch-cbr-documents", cache_policy=NO_CACHE)
def fetch_rates(
    source: CbrSource, requests: list[Request], directory: Directory,
    currency_set: CurrencySet, run: Run, share: int = 1,
) -> RateBatch:
    """Fetch and read one share of the planned documents, reporting each to `run`.

    Each document is read as soon as it arrives, while the client waits for its next slot,
    so reading costs no time beyond the politeness interval. `share` is how many such fetches
    run at once: each paces itself so that together they keep the source's rate.

    Raises:
        SourceError: a document could not be fetched; nothing is written.
        SourceFormatError: a document is not what was asked for; nothing is written.
    """
    client = source.client(run, share, budget=FETCH_TIMEOUT)
    known = directory.copy()
    daily, dynamic, rejected, answered, quoted = [], [], [], {}, {}
    for request in requests:
        if isinstance(request, DailyRequest):
            document = client.daily(request.on)
            answered[request.on] = document.rate_date
            ids = document.records["cbr_id"].to_pylist() + [r.record.get("ID")
                                                            for r in document.rejected]
            for cbr_id in ids:
                quoted.setdefault(cbr_id, set()).add(document.rate_date)
            rows, refused = rate_rows(_ours(document.records, known, currency_set), known, run)
            daily.append(rows)
        else:
            document = client.dynamic(request.cbr_id, request.start, request.end)
            rows, refused = rate_rows(document.records, known, run)
            dynamic.append(rows)
        run.fetched()
        rejected += document.rejected + refused
    registered = {k: v for k, v in known.entries.items() if k not in directory.entries}
    give_back_memory()
    return RateBatch(_concat(daily), _concat(dynamic), rejected, run, answered, quoted,
                     registered)


def give_back_memory() -> None:
    """Return the C heap's free memory to the system: the documents' trees are freed by now,
    but glibc keeps what they used (~100 MB after a full backfill) for the process's life."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def rate_rows(records: pa.Table, directory: Directory,
              run: Run) -> tuple[pa.Table, list[Rejection]]:
    """`rates` rows of a document's records: the codes and frequency of each ID from its
    directory entry, the lineage from `run`; a record of an unknown ID is rejected."""
    ids = pc.unique(records["cbr_id"]).to_pylist()
    unknown = [cbr_id for cbr_id in ids if directory.get(cbr_id) is None]
    rejected = []
    if unknown:
        is_unknown = pc.is_in(records["cbr_id"], value_set=pa.array(unknown, pa.string()))
        rejected = [Rejection(record, f"unknown currency ID {record['cbr_id']}")
                    for record in records.filter(is_unknown).to_pylist()]
        records = records.filter(pc.invert(is_unknown))
        ids = [cbr_id for cbr_id in ids if cbr_id not in unknown]
    entries = [directory.get(cbr_id) for cbr_id in ids]
    position = pc.index_in(records["cbr_id"], value_set=pa.array(ids, pa.string()))
    from_directory = {name: pa.array([getattr(e, name) for e in entries], pa.string())
                      .take(position) for name in DIRECTORY_COLUMNS}
    count = records.num_rows
    # One timestamp per run: shares read apart must give one key the same row.
    lineage = {"loaded_at": pa.repeat(pa.scalar(run.started_at, UTC_TIMESTAMP), count),
               "run_id": pa.repeat(pa.scalar(run.run_id, pa.string()), count)}
    columns = {**{name: records[name] for name in records.column_names}, **from_directory,
               **lineage}
    return pa.Table.from_arrays([columns[name] for name in RATES.column_names],
                                schema=RATES.arrow_schema), rejected


@task(name="validate-rates", cache_policy=NO_CACHE)
def validate_rates(batches: list[RateBatch], directory: Directory, run: Run) -> CheckedRates:
    """Schema checks over every share; rows that fail go to quarantine with the reason."""
    daily = _concat([b.daily for b in batches])
    dynamic, overruled = _overrule(daily, _concat([b.dynamic for b in batches]))
    rejected = [r for b in batches for r in b.rejected] + overruled
    answered = {asked: got for b in batches for asked, got in b.answered.items()}
    complete = directory.copy()
    for batch in batches:
        for cbr_id, entry in batch.registered.items():
            complete.entries.setdefault(cbr_id, entry)
    validated = validate(RATES, pa.concat_tables([daily, dynamic]), rejected)
    return CheckedRates(validated, _unpublished(answered, run, utc_now()), complete)


def _ours(records: pa.Table, directory: Directory, currency_set: CurrencySet) -> pa.Table:
    """The records of an `XML_daily` (which lists every currency) the run wants: its IDs, and
    IDs the directory lacks that carry a wanted code, which are registered from them."""
    ids = records["cbr_id"]
    listed = pa.array(list(directory.entries), pa.string())
    new = pc.and_(pc.invert(pc.is_in(ids, value_set=listed)),
                  pc.is_in(records["char_code"], value_set=pa.array(currency_set.codes,
                                                                    pa.string())))
    new = pc.fill_null(new, False)
    for record in records.filter(new).to_pylist():
        directory.register(record["cbr_id"], record["char_code"], record["num_code"],
                           record["name"], record["nominal"])
    wanted = pc.or_(pc.is_in(ids, value_set=pa.array(sorted(currency_set.ids), pa.string())),
                    new)
    return records.filter(wanted)


def _overrule(daily: pa.Table, dynamic: pa.Table) -> tuple[pa.Table, list[Rejection]]:
    """`dynamic` without the rows whose date and ID the day's `XML_daily` gives with another
    value or nominal, and those rows as rejections naming both."""
    if not daily.num_rows or not dynamic.num_rows:
        return dynamic, []
    key, versioned = list(RATES.key), RATES.versioned_columns
    numbered = dynamic.select(key + versioned).append_column(
        "row", pa.array(range(dynamic.num_rows), pa.int64()))
    pairs = numbered.join(daily.select(key + versioned), keys=key, join_type="inner",
                          right_suffix=" daily", use_threads=False)
    differs = pc.or_(*[pc.not_equal(pairs[name], pairs[f"{name} daily"]) for name in versioned])
    conflicts = pairs.filter(differs).sort_by("row").to_pylist()
    if not conflicts:
        return dynamic, []
    rows = sorted({c["row"] for c in conflicts})
    rejected = [Rejection(dynamic.slice(c["row"], 1).to_pylist()[0], (
        f"two published values for rate_date {c['rate_date']}, cbr_id {c['cbr_id']}: "
        f"{c['value']:f} per {c['nominal']} in XML_dynamic, "
        f"{c['value daily']:f} per {c['nominal daily']} in the day's XML_daily, "
        "which is kept")) for c in conflicts]
    keep = pc.invert(pc.is_in(pa.array(range(dynamic.num_rows), pa.int64()),
                              value_set=pa.array(rows, pa.int64())))
    return dynamic.filter(keep), rejected


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


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables) if tables else RATES.empty()

