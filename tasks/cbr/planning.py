"""Which CBR documents to ask for: pure planning from dates and currency IDs."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sco_etl.schemas.checks import FIRST_RATE_DATE
from sco_etl.schemas.errors import ConfigError
from sco_etl.tasks.cbr import settings


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
    """`XML_daily.asp?date_req=`: every daily-set currency on one date."""

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
    """From the latest stored effective date (less a re-check margin) to tomorrow."""
    if latest_stored is None:
        return Window(tomorrow - dt.timedelta(days=first_run_days), tomorrow)
    start = max(FIRST_RATE_DATE, latest_stored - dt.timedelta(days=recheck_days))
    return Window(start, tomorrow)


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


def plan_requests(
    window: Window, daily_ids: list[str], monthly_ids: list[str],
    max_dynamic_days: int = settings.MAX_DYNAMIC_DAYS, gaps: list[dt.date] = (),
) -> list[Request]:
    """The cheaper of one `XML_daily` per day and one `XML_dynamic` per currency ID.

    `XML_daily` lists only daily-set currencies, so monthly-set ones are always fetched with
    `XML_dynamic`. A full backfill costs one request per currency ID, not one per day.
    `gaps`, missing publication dates before the window, are each asked with `XML_daily`.
    """
    healing = [DailyRequest(day) for day in sorted(gaps) if day < window.start]
    return healing + _plan_window(window, daily_ids, monthly_ids, max_dynamic_days)


def _plan_window(
    window: Window, daily_ids: list[str], monthly_ids: list[str], max_dynamic_days: int,
) -> list[Request]:
    chunks = math.ceil(window.days / max_dynamic_days)
    dynamic_cost = len(daily_ids) * chunks
    monthly = [r for cbr_id in monthly_ids for r in _dynamic(cbr_id, window, max_dynamic_days)]
    if daily_ids and window.days <= dynamic_cost:
        days = [window.start + dt.timedelta(days=i) for i in range(window.days)]
        return [DailyRequest(day) for day in days] + monthly
    daily = [r for cbr_id in daily_ids for r in _dynamic(cbr_id, window, max_dynamic_days)]
    return daily + monthly


def _dynamic(cbr_id: str, window: Window, max_days: int) -> list[DynamicRequest]:
    requests, start = [], window.start
    while start <= window.end:
        end = min(window.end, start + dt.timedelta(days=max_days - 1))
        requests.append(DynamicRequest(cbr_id, start, end))
        start = end + dt.timedelta(days=1)
    return requests
