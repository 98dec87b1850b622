"""What a news run reads from the warehouse: only the rows it may change, never the whole table."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas.news import NEWS, NEWS_ITEM_HASHES
from sco_etl.warehouse.store import Warehouse, lookup_rows

URL_COLUMNS = ["item_id", "url", "duplicate_of", "first_seen_at"]

# An item may go unparsed only when parsing it again could not change its row: nothing wrote
# the row since its hash was taken, no article is still to come for it (`_with_article` fills
# only an empty body), and it is linked to the item a fresh join would link it to (the first
# stored non-duplicate with its url, else none).
REUSABLE = f"""
WITH mine AS (
    SELECT n.item_id, n.source, n.url, n.duplicate_of, h.raw_hash
    FROM "{NEWS.name}" n JOIN "{NEWS_ITEM_HASHES.name}" h USING (item_id)
    WHERE list_contains($sources::VARCHAR[], n.source) AND h.source = n.source
      AND h.row_updated_at = n.updated_at AND (NOT $with_articles OR n.body IS NOT NULL)
),
primaries AS (
    SELECT url, first(item_id ORDER BY first_seen_at, item_id) AS primary_id
    FROM "{NEWS.name}"
    WHERE duplicate_of IS NULL AND url IN (SELECT url FROM mine)
    GROUP BY url
)
SELECT m.source, m.raw_hash, m.item_id
FROM mine m LEFT JOIN primaries p USING (url)
WHERE coalesce(p.primary_id, m.item_id) = coalesce(m.duplicate_of, m.item_id)
ORDER BY m.source, m.item_id
"""

AWAITING = f"""
SELECT {{columns}} FROM "{NEWS.name}"
WHERE list_contains($sources::VARCHAR[], source) AND body IS NULL
  AND article_attempts < $max_attempts
  AND item_id NOT IN (SELECT item_id FROM {{candidates}})
ORDER BY published_at DESC, item_id
LIMIT $waiting
"""

REUSABLE_SCHEMA = pa.schema([("source", pa.string()), ("raw_hash", pa.string()),
                             ("item_id", pa.string())])


@dataclass
class KnownNews:
    """The stored news a run needs.

    Attributes:
        rows: the stored rows of this run's items, and the `waiting` newest items of its
            sources still waiting for an article page.
        urls: (item_id, url, duplicate_of, first_seen_at) of every stored item sharing a url
            with those, to link one story reached through several links to the one seen first.
    """

    rows: pa.Table
    urls: pa.Table


def reusable_items(warehouse: Warehouse, sources: list[str], with_articles: bool) -> pa.Table:
    """(source, raw_hash, item_id) of the sources' stored items that an unchanged copy of the
    bytes they were read from would leave exactly as they are."""
    with warehouse.reader() as connection:
        result = connection.execute(REUSABLE, {"sources": sources,
                                               "with_articles": with_articles})
        return result.to_arrow_table().cast(REUSABLE_SCHEMA)


def known_news(warehouse: Warehouse, candidates: pa.Table, sources: list[str],
               max_attempts: int, waiting: int) -> KnownNews:
    """The stored rows of the `candidates` (item_id, url), up to `waiting` more awaiting an
    article, and the items sharing a url with any of them — all from one snapshot."""
    if candidates.num_rows == 0 and waiting <= 0:  # every item unchanged, no article wanted
        return KnownNews(NEWS.empty(), NEWS.empty().select(URL_COLUMNS))
    columns = ", ".join(f'"{name}"' for name in NEWS.column_names)
    with warehouse.reader() as connection:
        mine = lookup_rows(connection, NEWS, "item_id", candidates["item_id"])
        parts = [mine]
        if waiting > 0:
            connection.register("run_candidates", candidates.select(["item_id"]))
            try:
                awaiting = connection.execute(
                    AWAITING.format(columns=columns, candidates="run_candidates"),
                    {"sources": sources, "max_attempts": max_attempts, "waiting": waiting},
                ).to_arrow_table()
            finally:
                connection.unregister("run_candidates")
            parts.append(awaiting.cast(NEWS.arrow_schema))
        rows = pa.concat_tables(parts)
        wanted = pa.concat_arrays([candidates["url"].combine_chunks(),
                                   rows["url"].combine_chunks()]).unique()
        urls = lookup_rows(connection, NEWS, "url", wanted, URL_COLUMNS)
    return KnownNews(rows, urls)
