"""Read-only questions behind the operator reports: chart series, the day's board, freshness,
what the warehouse holds (`sco-etl status`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas import FEED_STATE, LOADS, NEWS, RATES, UNPUBLISHED_DATES
from sco_etl.warehouse.ddl import BASE_TABLES
from sco_etl.warehouse.lake import LAKE_ALIAS
from sco_etl.warehouse.query import run_query
from sco_etl.warehouse.store import Warehouse, distinct_values

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
SELECT country, status, char_code, currency, nominal, value, unit_rate, rate_date
FROM board($day::DATE)
"""
"""The seed box of a day: the one query behind `sco-etl board`, the page, the web app's
board and the rates run's artifact."""
BOARD_HEADERS = {"country": "Country", "char_code": "Code", "currency": "Currency",
                 "nominal": "Den.", "value": "Rate", "rate_date": "Set for", "status": "Status"}
"""How people see the board's columns (the `sco-etl board` table, the rates-run artifact)."""

# A monthly-set currency's dates say little about CBR's daily calendar; daily-set ones do.
PUBLISHED_DATES = f"""
SELECT DISTINCT rate_date FROM "{RATES.name}" WHERE frequency = 'daily' ORDER BY 1
"""

# Every source with items or a fetch on record: one that always failed has no items.
NEWS_ACTIVITY = f"""
SELECT coalesce(n.source, f.source) AS source, n.latest_published_at,
       f.status_since AS watched_since
FROM (SELECT source, max(published_at) AS latest_published_at
      FROM "{NEWS.name}" GROUP BY source) n
FULL JOIN "{FEED_STATE.name}" f ON f.source = n.source
ORDER BY 1
"""

NEWS_PER_SOURCE = f"""
SELECT source, count(*) AS items, max(published_at) AS latest_published_at,
       count(*) FILTER (WHERE article_error IS NOT NULL) AS article_errors,
       arg_max(link || ' — ' || article_error, updated_at)
           FILTER (WHERE article_error IS NOT NULL) AS last_article_error
FROM "{NEWS.name}" GROUP BY source ORDER BY source
"""


def rate_series(warehouse: Warehouse, codes: list[str], start: dt.date,
                end: dt.date | None = None) -> pa.Table:
    """`day`, `char_code`, `rub_per_unit` (a float: for drawing, not sums) of each currency
    on every day from `start` to `end` (or the last)."""
    return run_query(warehouse, RATE_SERIES, [[c.upper() for c in codes], start, end])


def board_rows(warehouse: Warehouse, day: dt.date, known_at: str | None = None) -> pa.Table:
    """The SCO currencies/ruble box as of `day` (as the warehouse knew it at `known_at`).

    Our own query, so it runs on the plain reader: a rates run has that instance open
    already, while the locked one of `run_query` would cost it ~0.3 s more to start.
    """
    with warehouse.reader(known_at) as connection:
        return connection.execute(BOARD, {"day": day}).to_arrow_table()


def latest_rate_date(warehouse: Warehouse) -> dt.date | None:
    """The newest effective date stored, or None for an empty warehouse."""
    return warehouse.latest(RATES, "rate_date")


def stored_rates(warehouse: Warehouse) -> dict:
    """What the rates freshness check needs (`tasks.freshness.StoredRates`), from one
    snapshot."""
    with warehouse.reader() as connection:
        latest = connection.execute(f'SELECT max(rate_date) FROM "{RATES.name}"').fetchone()[0]
        published = frozenset(day for (day,) in connection.execute(PUBLISHED_DATES).fetchall())
        unpublished = frozenset(distinct_values(connection, UNPUBLISHED_DATES, "rate_date"))
    return {"latest": latest, "published": published, "unpublished": unpublished}


def news_activity(warehouse: Warehouse) -> list[dict]:
    """Per news source (stored items or a fetch on record): its newest item's `published_at`
    and since when its fetches have had their current outcome."""
    with warehouse.reader() as connection:
        return connection.execute(NEWS_ACTIVITY).to_arrow_table().to_pylist()


def news_per_source(warehouse: Warehouse) -> list[dict]:
    """Per news source: how many items are stored, the newest `published_at`, how many
    items' article pages failed last time they were asked, and the latest such failure
    (`link — cause`)."""
    with warehouse.reader() as connection:
        return connection.execute(NEWS_PER_SOURCE).to_arrow_table().to_pylist()


@dataclass
class WarehouseStatus:
    """What the warehouse holds, for operators, from one snapshot."""

    row_counts: dict[str, int]
    rate_dates: list[dt.date]
    unpublished_dates: set[dt.date]
    recent_loads: list[dict]
    snapshot_id: int
    snapshot_time: dt.datetime | None


def warehouse_status(warehouse: Warehouse, loads: int = 5) -> WarehouseStatus:
    with warehouse.reader() as connection:
        counts = {t.name: connection.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0]
                  for t in BASE_TABLES}
        recent = connection.execute(
            f'SELECT * FROM "{LOADS.name}" ORDER BY started_at DESC LIMIT ?', [loads]
        ).to_arrow_table().to_pylist()
        snapshot = connection.execute(
            f"SELECT snapshot_id, snapshot_time FROM {LAKE_ALIAS}.snapshots() "
            "ORDER BY snapshot_id DESC LIMIT 1").fetchone()
        return WarehouseStatus(
            counts, distinct_values(connection, RATES, "rate_date"),
            set(distinct_values(connection, UNPUBLISHED_DATES, "rate_date")), recent, *snapshot)
