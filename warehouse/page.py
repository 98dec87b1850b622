"""What the seed page shows for one day, read from one snapshot of the warehouse."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from sco_etl.warehouse.api import COUNTRIES
from sco_etl.warehouse.reports import BOARD

HEADLINE_COUNT = 10

# The Moscow day ends at midnight Moscow time: "on or before D" is by the headline's own clock.
HEADLINES = """
SELECT item_id, title, url, link, source, published_at,
       strftime(timezone('Europe/Moscow', published_at), '%d.%m.%Y %H:%M') AS published_msk
FROM news
WHERE duplicate_of IS NULL
  AND CAST(timezone('Europe/Moscow', published_at) AS DATE) <= $day::DATE
ORDER BY published_at DESC, item_id
LIMIT $limit
"""

FEATURED = """
SELECT item_id, title, url, link, source, author, body, published_at,
       strftime(timezone('Europe/Moscow', published_at), '%d.%m.%Y %H:%M') AS published_msk
FROM news
WHERE duplicate_of IS NULL AND body IS NOT NULL AND trim(body) <> ''
  AND CAST(timezone('Europe/Moscow', published_at) AS DATE) <= $day::DATE
ORDER BY published_at DESC, item_id
LIMIT 1
"""

ARTICLES = """
SELECT item_id, title, url, link, source, author, summary, body, published_at,
       strftime(timezone('Europe/Moscow', published_at), '%d.%m.%Y %H:%M') AS published_msk
FROM news WHERE list_contains($ids::VARCHAR[], item_id)
"""

@dataclass
class PageData:
    """The warehouse's rows behind one day's page."""

    day: dt.date
    board: pa.Table
    headlines: pa.Table
    featured: dict | None
    articles: list[dict]
    countries: list[dict]


def page_data(connection: duckdb.DuckDBPyConnection, day: dt.date) -> PageData:
    """Everything the page for `day` shows, from the snapshot `connection` reads."""
    def rows(sql: str, **parameters) -> pa.Table:
        return connection.execute(sql, parameters).to_arrow_table()

    board = rows(BOARD, day=day)  # the very query of `sco-etl board`, on this snapshot
    listed = rows(HEADLINES, day=day, limit=HEADLINE_COUNT)
    featured = rows(FEATURED, day=day).to_pylist()
    ids = listed["item_id"].to_pylist() + [f["item_id"] for f in featured]
    articles = rows(ARTICLES, ids=ids).to_pylist()
    countries = rows(COUNTRIES, day=day).to_pylist()
    return PageData(day, board, listed, featured[0] if featured else None, articles, countries)
