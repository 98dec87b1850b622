"""The CBR publication calendar: Russian working days, from the `holidays` package.

CBR sets rates on Russian working days; a rate set on a working day takes effect the next
calendar day, so effective dates usually fall Tuesday to Saturday, and Saturday's rate also
holds on Sunday and Monday. Which days Russia works comes from `holidays` (its RU calendar,
1991 on): the Labour Code holidays as they changed (1-2 January until 2004, 1-8 January since
2005; 7 November until 2004, 4 November since), the days off that government decrees moved
onto weekdays, and the weekend days those decrees made working days. CBR works on those too:
on Saturday 28 December 2024 it set the rates in force from 29 December to 9 January.

31 December is a working day unless a decree makes it a day off, and CBR sets a rate on it
then: the dollar's rate effective 1 January 2015 (56.2376) differs from 31 December 2014's
(56.2584). The package knows a year's transfers once the government has decreed them (in the
autumn before), to 2027 in the pinned release; later years have only the fixed holidays.
CBR's series start on 1 July 1992, inside the package's data; before 1991 only weekends count.

Where the rule and CBR disagree, CBR is right, and the warehouse records what it did: pass
`observed`, effective dates a daily-set currency has a rate for, which are publication dates
whatever the rule says, and `unpublished`, dates CBR confirmed it set no rate on. No I/O here:
callers read both and pass them in.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Set

import holidays

ONE_DAY = dt.timedelta(days=1)
NO_DATES: frozenset[dt.date] = frozenset()


@functools.cache
def _russia() -> holidays.HolidayBase:
    # Every year the package covers, filled at once: filling years on demand (`expand`) is
    # not safe across threads, and a whole century takes about 0.1 s.
    return holidays.country_holidays(
        "RU", years=range(holidays.RU.start_year, holidays.RU.end_year + 1), expand=False)


def is_working_day(day: dt.date) -> bool:
    """Whether Russia works on `day`: a weekday but no holiday, or a weekend worked by decree."""
    return _russia().is_working_day(day)


def is_publication_date(day: dt.date, observed: Set[dt.date] = NO_DATES,
                        unpublished: Set[dt.date] = NO_DATES) -> bool:
    """Whether rates take effect on `day` (they were set on the previous, working, day).

    Args:
        day: the effective date in question.
        observed: dates CBR is known to have published on; they win over everything.
        unpublished: dates CBR is known to have set no rate on; they win over the rule.
    """
    if day in observed:
        return True
    if day in unpublished:
        return False
    return is_working_day(day - ONE_DAY)


def publication_dates(start: dt.date, end: dt.date, observed: Set[dt.date] = NO_DATES,
                      unpublished: Set[dt.date] = NO_DATES) -> Iterator[dt.date]:
    """Effective dates from `start` to `end`, both included."""
    day = start
    while day <= end:
        if is_publication_date(day, observed, unpublished):
            yield day
        day += ONE_DAY


def latest_publication_on_or_before(day: dt.date, observed: Set[dt.date] = NO_DATES,
                                    unpublished: Set[dt.date] = NO_DATES) -> dt.date:
    """The effective date whose rates hold on `day`."""
    while not is_publication_date(day, observed, unpublished):
        day -= ONE_DAY
    return day


def next_publication_after(day: dt.date, observed: Set[dt.date] = NO_DATES,
                           unpublished: Set[dt.date] = NO_DATES) -> dt.date:
    """The first effective date after `day`."""
    day += ONE_DAY
    while not is_publication_date(day, observed, unpublished):
        day += ONE_DAY
    return day


def missing_publication_dates(present: Set[dt.date], start: dt.date, end: dt.date,
                              unpublished: Set[dt.date] = NO_DATES) -> list[dt.date]:
    """Expected effective dates from `start` to `end` with no rate stored.

    The rule says what to expect, and the warehouse overrules it both ways: a date in
    `present` is never missing, whatever the rule says, and `unpublished` are dates the rule
    expected but CBR confirmed it set no rate on. A date the rule expects that is merely
    absent stays a gap even with stored dates on both sides: a lost load looks just like a
    skipped day, and only asking CBR for it (which fills `unpublished`) tells them apart.
    """
    return [day for day in publication_dates(start, end, unpublished=unpublished)
            if day not in present]
