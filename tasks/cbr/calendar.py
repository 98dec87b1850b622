"""The CBR publication calendar, by rule.

CBR sets rates on Russian working days; a rate set on a working day takes effect the next
calendar day, so effective dates fall Tuesday to Saturday, and Saturday's rate also holds
on Sunday and Monday. Holidays are the fixed ones of the Labour Code (1-8 January among
them); one-off transfers of days off by government decree are not modelled, so a date they
affect may show as a false gap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

ONE_DAY = dt.timedelta(days=1)


def is_holiday(day: dt.date) -> bool:
    """Whether `day` is a fixed Russian public holiday."""
    month_day = (day.month, day.day)
    if day.month == 1 and day.day <= 8:
        return True
    if month_day == (12, 31):  # in practice CBR sets no rate on New Year's Eve
        return True
    if month_day in {(2, 23), (3, 8), (5, 1), (5, 9), (6, 12)}:
        return True
    if month_day == (11, 4) and day.year >= 2005:
        return True
    # Until 2004, 7 November and 12 December were holidays instead of 4 November.
    return month_day in {(11, 7), (12, 12)} and day.year <= 2004


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def is_publication_date(day: dt.date) -> bool:
    """Whether rates take effect on `day` (they were set on the previous, working, day)."""
    return is_working_day(day - ONE_DAY)


def publication_dates(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Effective dates from `start` to `end`, both included."""
    day = start
    while day <= end:
        if is_publication_date(day):
            yield day
        day += ONE_DAY


def latest_publication_on_or_before(day: dt.date) -> dt.date:
    """The effective date whose rates hold on `day`."""
    while not is_publication_date(day):
        day -= ONE_DAY
    return day


def next_publication_after(day: dt.date) -> dt.date:
    day += ONE_DAY
    while not is_publication_date(day):
        day += ONE_DAY
    return day
