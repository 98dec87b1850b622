"""What one rates run will do: its window, the currency set and the documents to ask for.

The one place a run's policy is decided: a catch-up (no dates) covers the latest stored date
less a re-check margin up to tomorrow and heals gaps anywhere in history; a backfill covers
its dates and refreshes the currency directory.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas import CURRENCIES, RATES, UNPUBLISHED_DATES
from sco_etl.tasks.cbr.client import CbrClient, CbrSource
from sco_etl.tasks.cbr.currencies import CurrencySet, Directory, resolve
from sco_etl.tasks.cbr.gaps import missing_publication_dates
from sco_etl.tasks.cbr.parse import parse_directory
from sco_etl.tasks.cbr.planning import Request, Window, plan_requests, plan_window
from sco_etl.tasks.cbr.settings import DIRECTORY_TIMEOUT
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.reports import latest_rate_date

progress_log = logging.getLogger("sco_etl.progress")


@dataclass
class RatesPlan:
    """A run's window, directory, currency set and requests, decided before any fetch."""

    window: Window
    directory: Directory
    currency_set: CurrencySet
    requests: list[Request]
    gaps: list[dt.date]
    """Missing publication dates before the window that this catch-up re-asks."""
    requests_made: int
    """HTTP requests planning took (the directory, when it was fetched)."""


def plan_rates(
    warehouse: Warehouse, source: CbrSource, currencies: list[str],
    start: dt.date | None, end: dt.date | None, tomorrow: dt.date, max_healed_gaps: int,
) -> RatesPlan:
    """Decide the run: window from the warehouse, directory (fetched when needed), requests."""
    backfill = start is not None or end is not None
    # This run writes: opening as a writer now lets its reads share the writer's instance.
    warehouse.migrate()
    window = plan_window(latest_rate_date(warehouse), start, end, tomorrow)
    stored = warehouse.read(CURRENCIES)
    client = source.client(budget=DIRECTORY_TIMEOUT)
    # A backfill (or a first run) refreshes the directory; a catch-up uses the stored one.
    directory = load_directory(client, stored, refresh=backfill or not stored.num_rows)
    currency_set = resolve(directory, currencies)
    gaps = [] if backfill else find_gaps(warehouse, window.start, max_healed_gaps)
    requests = plan_requests(window, list(currency_set.daily_ids),
                             list(currency_set.monthly_ids), gaps=gaps)
    progress_log.info("%d CBR documents to fetch", len(requests),
                      extra={"planned": len(requests)})
    return RatesPlan(window, directory, currency_set, requests, gaps,
                     client.http.requests_made)


def load_directory(client: CbrClient, stored: pa.Table, refresh: bool) -> Directory:
    """The currency directory: fetched fresh (d=0 and d=1) when asked or when none is stored."""
    if not refresh and stored.num_rows:
        return Directory.from_table(stored)
    return Directory.from_entries(
        parse_directory(client.directory(monthly=False)),
        parse_directory(client.directory(monthly=True)),
    )


def find_gaps(warehouse: Warehouse, before: dt.date, limit: int) -> list[dt.date]:
    """The latest `limit` missing publication dates before `before`, for a catch-up to heal.

    A stored date is never one, whatever the calendar says; neither is a date CBR confirmed it
    set no rate on (`unpublished_dates`).
    """
    present = set(warehouse.distinct(RATES, "rate_date"))
    if not present:
        return []
    unpublished = set(warehouse.distinct(UNPUBLISHED_DATES, "rate_date"))
    end = min(before - dt.timedelta(days=1), max(present))
    gaps = missing_publication_dates(present, min(present), end, unpublished)
    return gaps[-limit:]
