"""Publication dates the warehouse should hold but does not."""

from __future__ import annotations

import datetime as dt

from tasks import calendar


def missing_publication_dates(present: set[dt.date], start: dt.date, end: dt.date) -> list[dt.date]:
    """Expected effective dates from `start` to `end` with no rate stored."""
    return [day for day in calendar.publication_dates(start, end) if day not in present]
