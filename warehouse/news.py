"""What a news run reads from the warehouse: only the rows it may change, never the whole table."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from sco_etl.schemas.news import NEWS
from sco_etl.warehouse.store import Warehouse, lookup_rows

URL_COLUMNS = ["item_id", "url", "duplicate_of", "first_seen_at"]

# An item waits for its article page while it was never asked, or failed fewer times than
# allowed (`tasks.news.plan.wants_article`).
AWAITING = f"""
SELECT {{columns}} FROM "{NEWS.name}"
WHERE list_contains($sources::VARCHAR[], source)
  AND article_attempts < $max_attempts AND (article_attempts = 0 OR article_error IS NOT NULL)
  AND item_id NOT IN (SELECT item_id FROM {{candidates}})
ORDER BY published_at DESC, item_id
LIMIT $waiting
"""

# A body read from an article page: `body_from` is null on rows written before it was kept,
# when every body came from an article page.
SAME_BODIES = f"""
SELECT {{columns}} FROM "{NEWS.name}"
WHERE body IS NOT NULL AND coalesce(body_from, 'article') = 'article'
  AND list_contains($digests::VARCHAR[], md5(body))
ORDER BY item_id
"""


def known_news(warehouse: Warehouse, candidates: pa.Table, sources: list[str],
               max_attempts: int, waiting: int) -> tuple[pa.Table, pa.Table]:
    """From one snapshot: the stored rows of the `candidates` (item_id, url) and of up to
    `waiting` newest items of `sources` awaiting an article; and (item_id, url, duplicate_of,
    first_seen_at) of every item sharing a url with those, to link one story reached through
    several links to the one seen first."""
    if candidates.num_rows == 0 and waiting <= 0:  # every source unchanged, no article wanted
        return NEWS.empty(), NEWS.empty().select(URL_COLUMNS)
    with warehouse.reader() as connection:
        mine = lookup_rows(connection, NEWS, "item_id", candidates["item_id"])
        parts = [mine]
        if waiting > 0:
            connection.register("run_candidates", candidates.select(["item_id"]))
            try:
                awaiting = connection.execute(
                    AWAITING.format(columns=_columns(), candidates="run_candidates"),
                    {"sources": sources, "max_attempts": max_attempts, "waiting": waiting},
                ).to_arrow_table()
            finally:
                connection.unregister("run_candidates")
            parts.append(awaiting.cast(NEWS.arrow_schema))
        rows = pa.concat_tables(parts)
        wanted = pa.concat_arrays([candidates["url"].combine_chunks(),
                                   rows["url"].combine_chunks()]).unique()
        urls = lookup_rows(connection, NEWS, "url", wanted, URL_COLUMNS)
    return rows, urls


def rows_with_bodies(warehouse: Warehouse, texts: list[str]) -> pa.Table:
    """The stored rows whose body, read from an article page, is one of `texts`."""
    if not texts:
        return NEWS.empty()
    digests = sorted({hashlib.md5(text.encode()).hexdigest() for text in texts})
    with warehouse.reader() as connection:
        found = connection.execute(SAME_BODIES.format(columns=_columns()),
                                   {"digests": digests}).to_arrow_table()
    return found.cast(NEWS.arrow_schema)


def _columns() -> str:
    return ", ".join(f'"{name}"' for name in NEWS.column_names)
