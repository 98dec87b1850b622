"""What one rates run will do: its window, the currency set and the documents to ask for.

The one place a run's policy is decided: a catch-up (no dates) covers the latest stored date
less a re-check margin up to tomorrow and heals gaps anywhere in history; a backfill covers
its dates and refreshes the currency directory. The documents are planned in two phases
(`tasks.cbr.planning`): first the cheapest ones, then, after the `XML_daily` documents came,
the `XML_dynamic` follow-ups they leave necessary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Set
from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas import CURRENCIES, RATES, UNPUBLISHED_DATES
from sco_etl.tasks.cbr import calendar, planning
from sco_etl.tasks.cbr.client import CbrSource
from sco_etl.tasks.cbr.currencies import CurrencySet, Directory, resolve
from sco_etl.tasks.cbr.extract import RateBatch
from sco_etl.tasks.cbr.planning import DailyRequest, Month, Request, Window
from sco_etl.tasks.cbr.settings import DIRECTORY_TIMEOUT
from sco_etl.tasks.run import Run
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.reports import latest_rate_date


@dataclass
class RatesPlan:
    """A run's window, directory, currency set and first requests, decided before any fetch.

    Attributes:
        window: the effective dates the run covers.
        catch_up: no dates were given: the window follows the warehouse.
        directory: the currency directory the run uses (fetched for a backfill or a first run).
        currency_set: the IDs of the requested codes.
        dates: the publication dates in the window.
        requests: the documents to ask first.
        gaps: missing publication dates before the window that this catch-up re-asks.
        covered: per monthly-listed ID, the months of `dates` with a stored rate of it.
    """

    window: Window
    catch_up: bool
    directory: Directory
    currency_set: CurrencySet
    dates: list[dt.date]
    requests: list[Request]
    gaps: list[dt.date]
    covered: dict[str, set[Month]]

    @property
    def daily_ids(self) -> list[str]:
        return self.currency_set.quoted_from(self.window.start, self.currency_set.daily_ids)

    @property
    def monthly_ids(self) -> list[str]:
        return self.currency_set.quoted_from(self.window.start, self.currency_set.monthly_ids)

    def follow_ups(self, batches: list[RateBatch]) -> list[planning.DynamicRequest]:
        """The `XML_dynamic` documents still needed after the first requests gave `batches`."""
        if not batches or not any(isinstance(r, DailyRequest) and r.on >= self.window.start
                                  for r in self.requests):
            return []  # the window was read by XML_dynamic: nothing is left to follow up
        quoted: dict[str, set[dt.date]] = {}
        for batch in batches:
            for cbr_id, dates in batch.quoted.items():
                quoted.setdefault(cbr_id, set()).update(dates)
        return planning.follow_ups(self.window, self.dates, self.daily_ids, self.monthly_ids,
                                   self.covered, self.catch_up, quoted)


@task(name="plan-rates", cache_policy=NO_CACHE)
def plan_rates(
    warehouse: Warehouse, source: CbrSource, currencies: list[str],
    start: dt.date | None, end: dt.date | None, tomorrow: dt.date, max_healed_gaps: int,
    run: Run,
) -> RatesPlan:
    """Decide the run: window from the warehouse, directory (fetched when needed), requests."""
    catch_up = start is None and end is None
    window = planning.plan_window(latest_rate_date(warehouse), start, end, tomorrow)
    stored = warehouse.read(CURRENCIES)
    if catch_up and stored.num_rows:
        directory = Directory.from_table(stored)  # a catch-up uses the stored directory
    else:
        client = source.client(run, budget=DIRECTORY_TIMEOUT)
        directory = Directory.listed(client.directory(monthly=False),
                                     client.directory(monthly=True))
    currency_set = resolve(directory, currencies)
    present = set(warehouse.distinct(RATES, "rate_date"))
    unpublished = set(warehouse.distinct(UNPUBLISHED_DATES, "rate_date"))
    gaps = find_gaps(present, unpublished, window.start, max_healed_gaps) if catch_up else []
    dates = list(calendar.publication_dates(window.start, window.end, observed=present,
                                            unpublished=unpublished))
    plan = RatesPlan(window, catch_up, directory, currency_set, dates, [], gaps, {})
    if catch_up:
        plan.covered = _stored_months(warehouse, plan.monthly_ids, dates)
    plan.requests = planning.plan_requests(window, dates, plan.daily_ids, plan.monthly_ids,
                                           plan.covered, catch_up, gaps)
    run.planned(len(plan.requests))
    return plan


def find_gaps(present: Set[dt.date], unpublished: Set[dt.date], before: dt.date,
              limit: int) -> list[dt.date]:
    """The latest `limit` missing publication dates before `before`, for a catch-up to heal.

    A stored date is never one, whatever the calendar says; neither is a date CBR confirmed it
    set no rate on (`unpublished`).
    """
    if not present:
        return []
    end = min(before - dt.timedelta(days=1), max(present))
    gaps = calendar.missing_publication_dates(present, min(present), end, unpublished)
    return gaps[-limit:]


def _stored_months(warehouse: Warehouse, monthly_ids: list[str],
                   dates: list[dt.date]) -> dict[str, set[Month]]:
    """Per monthly-listed ID, which months of `dates` hold a stored rate of it."""
    wanted = planning.months_of(dates)
    if not monthly_ids or not wanted:
        return {}
    stored = warehouse.lookup(RATES, "cbr_id", monthly_ids, columns=["cbr_id", "rate_date"])
    covered: dict[str, set[Month]] = {}
    for cbr_id, day in zip(stored["cbr_id"].to_pylist(), stored["rate_date"].to_pylist(),
                           strict=True):
        if (day.year, day.month) in wanted:
            covered.setdefault(cbr_id, set()).add((day.year, day.month))
    return covered

