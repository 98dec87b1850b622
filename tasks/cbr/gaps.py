"""Publication dates the warehouse should hold but does not."""

from __future__ import annotations

import datetime as dt

from tasks.cbr import calendar


def missing_publication_dates(
    present: set[dt.date], start: dt.date, end: dt.date,
    unpublished: set[dt.date] = frozenset(),
) -> list[dt.date]:
    """Expected effective dates from `start` to `end` with no rate stored.

    `unpublished` are dates the rule expected but the service confirmed it set no rate on
    (a holiday moved by decree): they are not gaps.
    """
    return [day for day in calendar.publication_dates(start, end)
            if day not in present and day not in unpublished]
