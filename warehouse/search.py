"""Full-text search over the news: a DuckDB `fts` index kept in a local file beside the lake.

DuckLake tables take no indexes (`PRAGMA create_fts_index` on a lake table fails at commit:
DuckLake has no type for the index's internal columns), so the index is derived data: a plain
DuckDB file, `<data dir>/search.duckdb`, rebuilt from the lake's `news` after each news run
under a temporary name and renamed over the old one — a reader keeps the file it opened. It
is never the only copy of anything: deleting it costs one rebuild, and a search finds out
from the lake whether the file is stale (a news run on another machine) and rebuilds it.

One index per language, each with its own Snowball stemmer (English, Russian; `none` for an
unknown language), because an fts index has one stemmer. A query is matched against each and
the hits merged by BM25 score.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas.checks import MOSCOW
from schemas.errors import NoDataError, WarehouseError
from warehouse.lake import install_extensions, quote
from warehouse.store import Warehouse

INDEX_FILE = "search.duckdb"
STEMMERS = {"en": "english", "ru": "russian"}
"""language prefix → Snowball stemmer; any other language is indexed unstemmed"""
OTHER = "other"
# Letters and digits of every script are words (the default keeps only a-z).
IGNORE = r"(\.|[^\p{L}\p{N}])+"

NEWS_DOCUMENTS = """
SELECT item_id, source, url, title, summary, body, published_at,
       CASE WHEN lower(language) LIKE 'en%' THEN 'en'
            WHEN lower(language) LIKE 'ru%' THEN 'ru' ELSE 'other' END AS stemming
FROM news WHERE duplicate_of IS NULL
"""
NEWS_VERSION = "SELECT count(*) || '/' || coalesce(CAST(max(updated_at) AS VARCHAR), '') FROM news"

HITS = """
WITH scored AS ({scored})
SELECT d.item_id, d.published_at, d.source, d.title, d.summary, d.body, d.url, s.score
FROM scored s JOIN docs d USING (item_id)
WHERE s.score IS NOT NULL
  AND d.published_at >= coalesce($since::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
  AND ($source::VARCHAR IS NULL OR d.source = $source::VARCHAR)
ORDER BY s.score DESC, d.published_at DESC, d.item_id
LIMIT $limit
"""


@dataclass(frozen=True)
class IndexInfo:
    """What a rebuild indexed."""

    path: Path
    documents: int
    seconds: float


def index_path(warehouse: Warehouse) -> Path:
    return warehouse.root / INDEX_FILE


def news_version(warehouse: Warehouse) -> str:
    """Changes whenever an item is added, edited or removed."""
    with warehouse.reader() as connection:
        return connection.execute(NEWS_VERSION).fetchone()[0]


def rebuild_index(warehouse: Warehouse) -> IndexInfo:
    """Build the search file from the latest snapshot's news, then swap it in."""
    started = dt.datetime.now(dt.UTC)
    with warehouse.reader() as lake:
        version = lake.execute(NEWS_VERSION).fetchone()[0]
        documents = lake.execute(NEWS_DOCUMENTS).to_arrow_table()
    target = index_path(warehouse)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{INDEX_FILE}.{uuid.uuid4().hex}.tmp")
    install_extensions()
    try:
        connection = duckdb.connect(str(temporary))
        try:
            _fill(connection, documents, version)
        finally:
            connection.close()
        os.replace(temporary, target)
    except duckdb.Error as error:
        raise WarehouseError(f"cannot build the search index {target}: {error}") from error
    finally:
        temporary.unlink(missing_ok=True)
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return IndexInfo(target, documents.num_rows, seconds)


def _fill(connection: duckdb.DuckDBPyConnection, documents: pa.Table, version: str) -> None:
    connection.execute("LOAD fts")
    connection.register("documents", documents)
    connection.execute("CREATE TABLE docs AS SELECT * FROM documents")
    connection.execute("CREATE TABLE index_meta AS SELECT ? AS news_version", [version])
    for stemming in (*STEMMERS, OTHER):
        name = f"docs_{stemming}"
        connection.execute(f"CREATE TABLE {name} AS SELECT item_id, title, summary, body "
                           "FROM docs WHERE stemming = ?", [stemming])
        stemmer = STEMMERS.get(stemming, "none")
        stopwords = "english" if stemming == "en" else "none"
        connection.execute(
            f"PRAGMA create_fts_index({quote(name)}, 'item_id', 'title', 'summary', 'body', "
            f"stemmer={quote(stemmer)}, stopwords={quote(stopwords)}, "
            f"ignore={quote(IGNORE)}, strip_accents=0, lower=1, overwrite=1)")


def ensure_index(warehouse: Warehouse) -> Path:
    """The search file, rebuilt first if it is missing or older than the lake's news."""
    path = index_path(warehouse)
    if not path.exists() or _stored_version(path) != news_version(warehouse):
        rebuild_index(warehouse)
    return path


def _stored_version(path: Path) -> str | None:
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None  # unreadable: rebuilt
    try:
        return connection.execute("SELECT news_version FROM index_meta").fetchone()[0]
    except duckdb.Error:
        return None
    finally:
        connection.close()


def search(warehouse: Warehouse, query: str, since: dt.date | None = None,
           source: str | None = None, limit: int = 10) -> pa.Table:
    """Items matching `query`, best first: item_id, published_at, source, title, summary,
    body, url, score.

    Raises:
        NoDataError: the warehouse holds no news.
    """
    path = ensure_index(warehouse)
    install_extensions()
    connection = duckdb.connect(str(path), read_only=True)
    try:
        connection.execute("LOAD fts")
        if not connection.execute("SELECT count(*) FROM docs").fetchone()[0]:
            raise NoDataError("no news in the warehouse: run `sco-etl news` first")
        scored = " UNION ALL ".join(
            f"SELECT item_id, fts_main_docs_{s}.match_bm25(item_id, $query) AS score "
            f"FROM docs_{s}" for s in (*STEMMERS, OTHER))
        # `since` is a Moscow day, like the headlines' times.
        moment = dt.datetime.combine(since, dt.time(), MOSCOW) if since else None
        parameters = {"query": query, "since": moment, "source": source, "limit": limit}
        return connection.execute(HITS.format(scored=scored), parameters).to_arrow_table()
    except duckdb.Error as error:
        raise WarehouseError(f"search failed: {error}") from error
    finally:
        connection.close()
