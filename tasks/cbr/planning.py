"""Which CBR documents to ask for: pure planning from dates, currency IDs and what is stored.

The cheapest documents that give every rate of the window:

- One `XML_daily` per publication date of the window (the calendar's, `tasks.cbr.calendar`),
  when that, with the follow-ups it may need, is no more requests than one `XML_dynamic` per
  ID; otherwise one `XML_dynamic` per ID, monthly-listed ones included. A catch-up is a few
  days, so it reads a few `XML_daily`; a long backfill reads one `XML_dynamic` per ID,
  whatever its length.
- After the `XML_daily` documents, follow-ups (`follow_ups`), one `XML_dynamic` each:
  - a daily-listed ID none of the run's `XML_daily` quoted (the directory calls a
    monthly-set currency daily, or the ID is not quoted any more): over the window;
  - a monthly-listed ID, for which a month with a publication date in the window has no
    rate, stored or just read (`XML_daily` quotes an ID set monthly once CBR sets it daily,
    before its directory says so). A catch-up asks from the first day of the earliest such
    month, so that the month's rate is found where CBR set it; a backfill asks its range.
    The cost: a request per monthly-set ID (about a dozen) on each catch-up whose window
    reaches a month with no rate of it yet: once a month, when CBR has set the month's rate
    by the first catch-up that reaches it.
- Missing publication dates before a catch-up's window (gaps to heal): one `XML_daily` each.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Set
from dataclasses import dataclass

from sco_etl.schemas.checks import FIRST_RATE_DATE
from sco_etl.schemas.errors import ConfigError
from sco_etl.tasks.cbr import calendar, settings

Month = tuple[int, int]
"""(year, month)."""


@dataclass(frozen=True)
class Window:
    """The effective dates one run covers, both ends included."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class DailyRequest:
    """`XML_daily.asp?date_req=`: every currency CBR set on one date."""

    on: dt.date


@dataclass(frozen=True)
class DynamicRequest:
    """`XML_dynamic.asp`: one currency ID over a range."""

    cbr_id: str
    start: dt.date
    end: dt.date


Request = DailyRequest | DynamicRequest


def catch_up_window(
    latest_stored: dt.date | None, tomorrow: dt.date,
    recheck_days: int = settings.RECHECK_DAYS, first_run_days: int = settings.FIRST_RUN_DAYS,
) -> Window:
    """From the latest stored effective date less a re-check margin, to tomorrow.

    The window starts on a publication date: the margin's first day with a rate.
    """
    if latest_stored is None:
        start = tomorrow - dt.timedelta(days=first_run_days)
    else:
        start = max(FIRST_RATE_DATE, latest_stored - dt.timedelta(days=recheck_days))
    start = calendar.next_publication_after(start - calendar.ONE_DAY)
    return Window(min(start, tomorrow), tomorrow)


def plan_window(
    latest_stored: dt.date | None, start: dt.date | None, end: dt.date | None,
    tomorrow: dt.date,
) -> Window:
    """A catch-up window without dates; otherwise the backfill range, clipped to the series."""
    if start is None and end is None:
        return catch_up_window(latest_stored, tomorrow)
    start = max(start or FIRST_RATE_DATE, FIRST_RATE_DATE)
    end = min(end or tomorrow, tomorrow)
    if start > end:
        raise ConfigError(f"start {start} is after end {end}; nothing to ingest")
    return Window(start, end)


def daily_documents_pay(window: Window, dates: list[dt.date], daily_ids: list[str],
                        monthly_ids: list[str], uncovered: int,
                        max_dynamic_days: int = settings.MAX_DYNAMIC_DAYS) -> bool:
    """Whether one `XML_daily` per publication date (and at most `uncovered` monthly-listed
    IDs to follow up) costs no more than one `XML_dynamic` per ID."""
    chunks = math.ceil(window.days / max_dynamic_days)
    by_id = (len(daily_ids) + len(monthly_ids)) * chunks
    return bool(daily_ids) and len(dates) + uncovered * chunks <= by_id


def plan_requests(
    window: Window, dates: list[dt.date], daily_ids: list[str], monthly_ids: list[str],
    covered: dict[str, set[Month]], catch_up: bool, gaps: Iterable[dt.date] = (),
    max_dynamic_days: int = settings.MAX_DYNAMIC_DAYS,
) -> list[Request]:
    """The documents to ask first: gaps, then `XML_daily` per date or `XML_dynamic` per ID.

    Args:
        window: the effective dates of the run.
        dates: the publication dates in the window.
        daily_ids, monthly_ids: the IDs to ask, as the directory lists them.
        covered: per monthly-listed ID, the months that have a stored rate of it.
        catch_up: a catch-up (monthly rates from their month's start) or a backfill.
        gaps: missing publication dates before the window, each asked with `XML_daily`.
    """
    healing = [DailyRequest(day) for day in sorted(gaps) if day < window.start]
    wanted = months_of(dates)
    uncovered = sum(1 for i in monthly_ids if wanted - covered.get(i, set()))
    if daily_documents_pay(window, dates, daily_ids, monthly_ids, uncovered, max_dynamic_days):
        # Monthly-listed IDs wait for the follow-ups: the XML_daily may quote them.
        return healing + [DailyRequest(day) for day in dates]
    # Every ID over the window, monthly-listed ones too: the directory lists some IDs as
    # monthly that CBR sets daily, and a stored rate in a month does not say it is the only one.
    by_id = [r for cbr_id in daily_ids
             for r in _dynamic(cbr_id, window.start, window.end, max_dynamic_days)]
    return healing + by_id + _monthly(window, dates, monthly_ids, covered, catch_up,
                                      max_dynamic_days, every=True)


def follow_ups(
    window: Window, dates: list[dt.date], daily_ids: list[str], monthly_ids: list[str],
    covered: dict[str, set[Month]], catch_up: bool, quoted: dict[str, Set[dt.date]],
    max_dynamic_days: int = settings.MAX_DYNAMIC_DAYS,
) -> list[DynamicRequest]:
    """The `XML_dynamic` documents a window read with `XML_daily` still needs.

    `quoted` holds, per ID, the dates of the run's `XML_daily` documents that quoted it; the
    other arguments are `plan_requests`'.
    """
    absent = [i for i in daily_ids if not quoted.get(i)]
    requests = [r for cbr_id in absent
                for r in _dynamic(cbr_id, window.start, window.end, max_dynamic_days)]
    seen = {i: covered.get(i, set()) | {(d.year, d.month) for d in quoted.get(i, ())}
            for i in monthly_ids}
    return requests + _monthly(window, dates, monthly_ids, seen, catch_up, max_dynamic_days)


def months_of(dates: Iterable[dt.date]) -> set[Month]:
    return {(day.year, day.month) for day in dates}


def _monthly(window: Window, dates: list[dt.date], monthly_ids: list[str],
             covered: dict[str, set[Month]], catch_up: bool, max_days: int,
             every: bool = False) -> list[DynamicRequest]:
    """An `XML_dynamic` per monthly-listed ID with a month of the window's dates uncovered,
    from the first day of the earliest such month for a catch-up, over the window for a
    backfill; `every`: per monthly-listed ID, over the window (and from that day)."""
    wanted = months_of(dates)
    requests = []
    for cbr_id in monthly_ids:
        missing = wanted - covered.get(cbr_id, set())
        if not missing and not every:
            continue
        start = window.start
        if missing and catch_up:
            year, month = min(missing)
            first = max(dt.date(year, month, 1), FIRST_RATE_DATE)
            start = min(start, first) if every else first
        requests += _dynamic(cbr_id, start, window.end, max_days)
    return requests


def _dynamic(cbr_id: str, start: dt.date, end: dt.date, max_days: int) -> list[DynamicRequest]:
    requests = []
    while start <= end:
        last = min(end, start + dt.timedelta(days=max_days - 1))
        requests.append(DynamicRequest(cbr_id, start, last))
        start = last + dt.timedelta(days=1)
    return requests
