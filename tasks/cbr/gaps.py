"""Publication dates the warehouse should hold but does not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Set

from sco_etl.tasks.cbr import calendar


def missing_publication_dates(
    present: Set[dt.date], start: dt.date, end: dt.date,
    unpublished: Set[dt.date] = calendar.NO_DATES,
) -> list[dt.date]:
    """Expected effective dates from `start` to `end` with no rate stored.

    The calendar (`tasks.cbr.calendar`) says what to expect, and the warehouse overrules it both
    ways: a date in `present` is never missing, whatever the rule says, and `unpublished` are
    dates the rule expected but CBR confirmed it set no rate on. A date the rule expects that is
    merely absent stays a gap even with stored dates on both sides: a lost load looks just like
    a skipped day, and only asking CBR for it (which fills `unpublished`) tells them apart.
    """
    return [day for day in calendar.publication_dates(start, end, unpublished=unpublished)
            if day not in present]
