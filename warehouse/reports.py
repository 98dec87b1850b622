"""Read-only questions behind the operator reports: chart series, the day's board, freshness.

The SQL goes through `run_query` (a read-only DuckDB connection over the catalog views); the
freshness inputs are read straight from Parquet, so they work before the catalog knows a table.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from schemas import RATES
from warehouse.query import run_query
from warehouse.store import Warehouse

# Calendar-filled, so every series has a value on the first day (the index base) even when
# that day is a Sunday or a monthly-set currency was published weeks before. `unit_rate_rub`
# restates pre-1998 values in today's rubles, so series crossing 1998 do not jump 1000-fold.
RATE_SERIES = """
SELECT as_of_date AS day, char_code, CAST(unit_rate_rub AS DOUBLE) AS rub_per_unit
FROM rates_daily
WHERE list_contains(?::VARCHAR[], char_code)
  AND as_of_date >= ?::DATE AND as_of_date <= coalesce(?::DATE, DATE '9999-12-31')
-- one ISO code can sit under two CBR IDs on a day: keep the one published last
QUALIFY row_number() OVER (
    PARTITION BY as_of_date, char_code ORDER BY rate_date DESC, cbr_id DESC) = 1
ORDER BY char_code, as_of_date
"""

BOARD = """
SELECT country, status, char_code, currency, nominal, value, rate_date
FROM board(?::DATE)
"""


def rate_series(warehouse: Warehouse, codes: list[str], start: dt.date,
                end: dt.date | None = None) -> pa.Table:
    """Rubles per one unit of each currency on every day from `start` to `end` (or the last).

    Returns a table of `day`, `char_code`, `rub_per_unit` (a float: for drawing, not sums).
    """
    return run_query(warehouse, RATE_SERIES, [[c.upper() for c in codes], start, end])


def board_rows(warehouse: Warehouse, day: dt.date) -> pa.Table:
    """The SCO currencies/ruble box as of `day`: one row per SCO country but Russia."""
    return run_query(warehouse, BOARD, [day])


def latest_rate_date(warehouse: Warehouse) -> dt.date | None:
    """The newest effective date stored, or None for an empty warehouse."""
    dates = warehouse.read(RATES, columns=["rate_date"]).column("rate_date")
    return pc.max(dates).as_py() if len(dates) else None


def news_activity(warehouse: Warehouse) -> list[dict]:
    """Per news source: the newest `published_at` and `first_seen_at` stored.

    Empty until the news pipeline (`schemas.news`) is installed and has loaded something.
    """
    try:
        from schemas.news import NEWS
    except ModuleNotFoundError as error:
        if error.name != "schemas.news":
            raise
        return []  # the news pipeline has not landed in this installation
    rows = warehouse.read(NEWS, columns=["source", "published_at", "first_seen_at"])
    if not rows.num_rows:
        return []
    latest = rows.group_by("source").aggregate(
        [("published_at", "max"), ("first_seen_at", "max")])
    return [
        {"source": row["source"], "latest_published_at": row["published_at_max"],
         "latest_first_seen_at": row["first_seen_at_max"]}
        for row in latest.to_pylist()
    ]
