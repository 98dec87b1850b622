"""The one clock: the moment now, in UTC, and the day it is in Moscow.

Rates and publication calendars live on Moscow's calendar; stored timestamps are UTC. Every
"today" of sco-etl comes from here, computed in Python and passed on — into SQL as a
parameter (`warehouse.lake` sets it on each connection) — never from the host's time zone,
nor from DuckDB's `current_date`/`now()`, which follow it. A run on a UTC or a Pacific host at
01:00 Moscow time sees Moscow's Monday.

Every function takes the moment it judges (`now`, time-zone aware), so a caller can pass a
fixed one; without it, the system clock is read (tests freeze it with time-machine).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

MOSCOW = ZoneInfo("Europe/Moscow")
"""Moscow's zone from the tz database: UTC+4 from March 2011 to October 2014, else UTC+3
(since 1992)."""
ONE_DAY = dt.timedelta(days=1)


def utc_now() -> dt.datetime:
    """The moment now, UTC."""
    return dt.datetime.now(dt.UTC)


def moscow_now(now: dt.datetime | None = None) -> dt.datetime:
    """`now` (default: the moment now) on Moscow's wall clock."""
    return (now or utc_now()).astimezone(MOSCOW)


def moscow_today(now: dt.datetime | None = None) -> dt.date:
    """The day it is in Moscow: the "today" of rates, boards and pages."""
    return moscow_now(now).date()


def moscow_tomorrow(now: dt.datetime | None = None) -> dt.date:
    """CBR publishes tomorrow's rates today, so tomorrow (Moscow) is the latest rate date."""
    return moscow_today(now) + ONE_DAY
