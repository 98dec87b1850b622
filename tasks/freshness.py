"""Is the warehouse up to date? Pure judgements over the CBR calendar and news cadences.

Rates: CBR sets rates on a Russian working day, published at about 15:30 Moscow time and
effective the next calendar day (`tasks.cbr.calendar`). The rate effective on date E is therefore
due on E - 1 at 15:30 MSK, plus a grace period that covers a late publication and the
scheduled run that fetches it. Between those moments the previous rate is still the current
one: Saturday's rate holds on Sunday and Monday, and the year's last rate holds until the New
Year holidays are over. The calendar knows the days off and working Saturdays moved by decree,
and the warehouse corrects it: a date a daily-set currency has a rate for is a publication date
whatever the rule says, and a date CBR confirmed it set no rate on is none. Only a decree the
installed `holidays` release does not know yet still makes the check call rates late until
CBR's next publication.

News: each source should publish something new at least once per cadence (its maximum age),
judged by its newest item's own publication time: a feed still serving items from 2019 is
late however recently we fetched it. A source that never gave an item is late since it was
first fetched.

`observe` reads the warehouse; the judgements are pure and take the clock as an argument.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Set
from dataclasses import dataclass

from sco_etl.schemas.clock import MOSCOW
from sco_etl.tasks.cbr import calendar
from sco_etl.warehouse import Warehouse, reports

RATES_PUBLISHED_AT = dt.time(15, 30)
"""When CBR publishes the rates it set that day, Moscow time."""
DEFAULT_RATES_GRACE = dt.timedelta(hours=4)
"""Rates count as late from 19:30 MSK: after the 19:15 scheduled run had its chance."""
DEFAULT_NEWS_MAX_AGE = dt.timedelta(hours=48)
"""A source silent for two days is late; one day would flag quiet weekends."""


@dataclass(frozen=True)
class Freshness:
    """The verdict on `rates` or `news <source>`: the newest stored effective date or item
    time (None: nothing stored), the newest date that should be stored or the deadline for
    news, and since when it is late (None while fresh)."""

    subject: str
    latest: dt.date | dt.datetime | None
    expected: dt.date | dt.datetime
    late_since: dt.datetime | None

    @property
    def is_late(self) -> bool:
        return self.late_since is not None

    def stored(self) -> str:
        if self.subject == "rates":
            stored = (f"latest effective date {self.latest}" if self.latest is not None
                      else "no rates stored")
            return f"{stored}, expected {self.expected}"
        return f"latest item {_when(self.latest)}" if self.latest else "no items stored"

    def status(self, now: dt.datetime) -> str:
        if self.late_since is None:
            return "fresh"
        return f"LATE since {_when(self.late_since)} ({_age(now - self.late_since)})"

    def message(self, now: dt.datetime) -> str:
        return f"{self.subject}: {self.stored()} — {self.status(now)}"


@dataclass(frozen=True)
class StoredRates:
    """What the warehouse holds of the CBR calendar: the newest effective date, the dates a
    daily-set currency has a rate for (CBR published on them), and the dates CBR confirmed it
    set no rate on (`unpublished_dates`)."""

    latest: dt.date | None
    published: frozenset[dt.date] = calendar.NO_DATES
    unpublished: frozenset[dt.date] = calendar.NO_DATES


@dataclass(frozen=True)
class SourceActivity:
    """A news source: its newest item's own publication time (None: no item), and since when
    its fetches have had their current outcome (for a source that always failed, its first)."""

    source: str
    latest_published_at: dt.datetime | None
    watched_since: dt.datetime | None = None


@dataclass(frozen=True)
class FreshnessReport:

    now: dt.datetime
    checks: tuple[Freshness, ...]

    @property
    def late(self) -> list[Freshness]:
        return [check for check in self.checks if check.is_late]

    def summary(self) -> str:
        late = self.late
        if not late:
            return f"all {len(self.checks)} datasets are fresh"
        return ("late data: " + "; ".join(check.message(self.now) for check in late)
                + ". See the last loads in `sco-etl status`; `sco-etl rates` catches rates up.")


def rates_due_at(effective: dt.date, grace: dt.timedelta = DEFAULT_RATES_GRACE) -> dt.datetime:
    published = dt.datetime.combine(effective - calendar.ONE_DAY, RATES_PUBLISHED_AT,
                                    tzinfo=MOSCOW)
    return published + grace


def expected_rate_date(now: dt.datetime, grace: dt.timedelta = DEFAULT_RATES_GRACE,
                       published: Set[dt.date] = calendar.NO_DATES,
                       unpublished: Set[dt.date] = calendar.NO_DATES) -> dt.date:
    """The newest effective date whose rates should be stored by `now` (`published` and
    `unpublished` correct the calendar as in `tasks.cbr.calendar`)."""
    known = (published, unpublished)
    # Tomorrow's rate is the newest that can exist (published today); step back until due.
    candidate = calendar.latest_publication_on_or_before(
        _moscow_date(now) + calendar.ONE_DAY, *known)
    while rates_due_at(candidate, grace) > now:
        candidate = calendar.latest_publication_on_or_before(candidate - calendar.ONE_DAY, *known)
    return candidate


def rates_freshness(latest: dt.date | None, now: dt.datetime,
                    grace: dt.timedelta = DEFAULT_RATES_GRACE,
                    published: Set[dt.date] = calendar.NO_DATES,
                    unpublished: Set[dt.date] = calendar.NO_DATES) -> Freshness:
    """Whether the newest stored effective date (`latest`) is as new as the calendar says it
    should be at `now` (timezone-aware), `grace` after the 15:30 MSK publication."""
    _require_aware(now)
    expected = expected_rate_date(now, grace, published, unpublished)
    if latest is not None and latest >= expected:
        return Freshness("rates", latest, expected, None)
    # Late since the first publication after the stored one fell due.
    first_missing = (expected if latest is None
                     else calendar.next_publication_after(latest, published, unpublished))
    return Freshness("rates", latest, expected, rates_due_at(first_missing, grace))


def news_freshness(activity: Iterable[SourceActivity], now: dt.datetime,
                   max_age: dt.timedelta = DEFAULT_NEWS_MAX_AGE) -> list[Freshness]:
    """One verdict per news source: late once its newest item is older than its maximum age.

    The newest item's publication time is capped at `now`: a feed with a zone bug may date
    items in the future. A source without items is late since it was first fetched (or now).
    """
    _require_aware(now)
    verdicts = []
    for source in sorted(activity, key=lambda a: a.source):
        last = source.latest_published_at
        if last is None:
            since = min(source.watched_since or now, now)
            verdicts.append(Freshness(f"news {source.source}", None, since, since))
            continue
        last = min(last, now)
        deadline = last + max_age
        verdicts.append(Freshness(f"news {source.source}", last, deadline,
                                  deadline if deadline < now else None))
    return verdicts


def assess(
    rates: StoredRates, news_activity: Iterable[SourceActivity],
    now: dt.datetime, rates_grace: dt.timedelta = DEFAULT_RATES_GRACE,
    news_max_age: dt.timedelta = DEFAULT_NEWS_MAX_AGE,
) -> FreshnessReport:
    checks = [rates_freshness(rates.latest, now, rates_grace, rates.published,
                              rates.unpublished)]
    checks += news_freshness(news_activity, now, news_max_age)
    return FreshnessReport(now, tuple(checks))


def observe(warehouse: Warehouse) -> tuple[StoredRates, list[SourceActivity]]:
    """The stored rate dates the calendar needs and each news source's newest activity."""
    activity = [SourceActivity(**row) for row in reports.news_activity(warehouse)]
    return StoredRates(**reports.stored_rates(warehouse)), activity


def _moscow_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(MOSCOW).date()


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("`now` must be timezone-aware, e.g. datetime.now(UTC)")


def _when(value: dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return f"{value.astimezone(MOSCOW):%Y-%m-%d %H:%M} MSK"
    return str(value)


def _age(delta: dt.timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days {hours % 24} h"
    return f"{hours} h {int(delta.total_seconds() % 3600 // 60)} min"
