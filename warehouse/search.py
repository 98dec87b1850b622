"""Full-text search over the news: a DuckDB `fts` index kept in a local file beside the lake.

DuckLake tables take no indexes (`PRAGMA create_fts_index` on a lake table fails at commit:
DuckLake has no type for the index's internal columns), so the index is derived data: a plain
DuckDB file, `<data dir>/search.duckdb`. After a news run only the items added, edited or
removed since (told by their `updated_at`) are changed (`warehouse/fts.py`), in a copy of the
file renamed over the old one — a reader keeps the file it opened. Deleting it costs one
build; a search finds out from the lake whether the file is stale (a news run on another
machine) and brings it up to date.

One index per language, each with its own Snowball stemmer (English, Russian; `none` for an
unknown language), because an fts index has one stemmer. A query is matched against each and
the hits merged by BM25 score. Each hit comes with a snippet around its first matching word.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from sco_etl.schemas.clock import MOSCOW
from sco_etl.schemas.errors import NoDataError, WarehouseError
from sco_etl.warehouse import fts
from sco_etl.warehouse.lake import install_extensions
from sco_etl.warehouse.store import Warehouse

INDEX_FILE = "search.duckdb"
STEMMERS = {"en": "english", "ru": "russian"}
"""language prefix → Snowball stemmer; any other language is indexed unstemmed"""
OTHER = "other"
INDEX_FORMAT = 3
"""Raised when the file's layout changes: a file of another format is built again."""
MOST = 0.5
"""Above this share of the items changed, building the index whole is cheaper."""
# Letters and digits of every script are words (the default keeps only a-z).
IGNORE = r"(\.|[^\p{L}\p{N}])+"

NEWS_DOCUMENTS = """
SELECT item_id, source, url, link, title, summary, body, published_at, updated_at,
       CASE WHEN lower(language) LIKE 'en%' THEN 'en'
            WHEN lower(language) LIKE 'ru%' THEN 'ru' ELSE 'other' END AS stemming
FROM news WHERE duplicate_of IS NULL
"""
NEWS_KEYS = "SELECT item_id, updated_at FROM news WHERE duplicate_of IS NULL"
NEWS_VERSION = "SELECT count(*) || '/' || coalesce(CAST(max(updated_at) AS VARCHAR), '') FROM news"

HITS = """
WITH scored AS ({scored})
SELECT d.item_id, d.published_at, d.source, d.title, d.summary, d.body, d.url, d.link,
       s.score
FROM scored s JOIN docs d USING (item_id)
WHERE s.score IS NOT NULL
  AND d.published_at >= coalesce($since::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
  AND ($source::VARCHAR IS NULL OR d.source = $source::VARCHAR)
ORDER BY s.score DESC, d.published_at DESC, d.item_id
LIMIT $limit
"""


def index_path(warehouse: Warehouse) -> Path:
    return warehouse.root / INDEX_FILE


def rebuild_index(warehouse: Warehouse) -> int:
    """Build the search file whole from the latest snapshot's news, then swap it in; return
    the items indexed."""
    with warehouse.reader() as lake:
        version = lake.execute(NEWS_VERSION).fetchone()[0]
        documents = lake.execute(NEWS_DOCUMENTS).to_arrow_table()

    def fill(connection: duckdb.DuckDBPyConnection) -> None:
        connection.register("documents", documents)
        connection.execute("CREATE TABLE docs AS SELECT * FROM documents")
        connection.execute("CREATE TABLE index_meta AS SELECT ? AS news_version, ? AS format",
                           [version, INDEX_FORMAT])
        for stemming in (*STEMMERS, OTHER):
            name = f"docs_{stemming}"
            connection.execute(f"CREATE TABLE {name} AS SELECT item_id, title, summary, body "
                               "FROM docs WHERE stemming = ?", [stemming])
            fts.create_index(connection, name, STEMMERS.get(stemming, "none"),
                             "english" if stemming == "en" else "none", IGNORE)

    _swap_in(warehouse, fill, copy=False)
    return documents.num_rows


def refresh_index(warehouse: Warehouse) -> tuple[int, int | None]:
    """Bring the search file in line with the latest snapshot's news, changing only the items
    added, edited or removed since it was built (building it whole when there is no usable
    file, or when most items changed); return the items indexed and changed (None: all)."""
    stored = _stored_meta(index_path(warehouse))
    if stored is None:
        return rebuild_index(warehouse), None
    with warehouse.reader() as lake:
        version = lake.execute(NEWS_VERSION).fetchone()[0]
        keys = lake.execute(NEWS_KEYS).to_arrow_table()
        with duckdb.connect(str(index_path(warehouse)), read_only=True) as index:
            index.register("lake_keys", keys)
            gone = index.execute("SELECT item_id FROM docs "
                                 "ANTI JOIN lake_keys USING (item_id, updated_at)").to_arrow_table()
            wanted = index.execute("SELECT item_id FROM lake_keys "
                                   "ANTI JOIN docs USING (item_id, updated_at)").to_arrow_table()
        if gone.num_rows + wanted.num_rows > MOST * max(keys.num_rows, 1):
            return rebuild_index(warehouse), None
        lake.register("wanted", wanted)
        fresh = lake.execute(f"SELECT * FROM ({NEWS_DOCUMENTS}) "
                             "SEMI JOIN wanted USING (item_id)").to_arrow_table()
        lake.unregister("wanted")

    def update(connection: duckdb.DuckDBPyConnection) -> None:
        connection.register("gone_ids", gone)
        connection.register("fresh_docs", fresh)
        connection.execute("BEGIN TRANSACTION")
        # A replaced item leaves first, from whichever language it was indexed under.
        connection.execute("CREATE TEMP TABLE index_gone AS SELECT item_id FROM gone_ids "
                           "UNION SELECT item_id FROM fresh_docs")
        connection.execute("DELETE FROM docs WHERE item_id IN "
                           "(SELECT item_id FROM temp.main.index_gone)")
        connection.execute("INSERT INTO docs SELECT * FROM fresh_docs")
        for stemming in (*STEMMERS, OTHER):
            fts.update_index(connection, f"docs_{stemming}", STEMMERS.get(stemming, "none"),
                             "temp.main.index_gone",
                             f"(SELECT item_id, title, summary, body FROM fresh_docs "
                             f"WHERE stemming = '{stemming}')")
        connection.execute("UPDATE index_meta SET news_version = ?", [version])
        connection.execute("COMMIT")

    if gone.num_rows or fresh.num_rows or stored != version:
        _swap_in(warehouse, update, copy=True)
    changed = set(gone["item_id"].to_pylist()) | set(fresh["item_id"].to_pylist())
    return keys.num_rows, len(changed)


def _swap_in(warehouse: Warehouse, work, copy: bool) -> None:
    """Run `work` on a new file (a copy of the index with `copy`) and rename it over the index."""
    target = index_path(warehouse)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{INDEX_FILE}.{uuid.uuid4().hex}.tmp")
    install_extensions()
    try:
        if copy:
            shutil.copyfile(target, temporary)
        connection = duckdb.connect(str(temporary))
        try:
            connection.execute("LOAD fts")
            work(connection)
        finally:
            connection.close()
        os.replace(temporary, target)
    except duckdb.Error as error:
        raise WarehouseError(f"cannot build the search index {target}: {error}") from error
    finally:
        temporary.unlink(missing_ok=True)


def ensure_index(warehouse: Warehouse) -> Path:
    """The search file, brought up to date first if it is missing or older than the news."""
    path = index_path(warehouse)
    with warehouse.reader() as connection:
        version = connection.execute(NEWS_VERSION).fetchone()[0]
    if not path.exists() or _stored_meta(path) != version:
        refresh_index(warehouse)
    return path


def _stored_meta(path: Path) -> str | None:
    """The news version a search file of this format reflects; None: no usable file."""
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None  # missing or unreadable: built again
    try:
        row = connection.execute("SELECT news_version, format FROM index_meta").fetchone()
    except duckdb.Error:
        return None  # an earlier format, without one
    finally:
        connection.close()
    return row[0] if row and row[1] == INDEX_FORMAT else None


def search(warehouse: Warehouse, query: str, since: dt.date | None = None,
           source: str | None = None, limit: int = 10) -> pa.Table:
    """Items matching `query`, best first (NoDataError without news): item_id, published_at,
    source, title, summary, body, url (canonical), link (as published), score."""
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


SNIPPET_CHARS = 160
# Words are compared by a prefix, a cheap stand-in for the index's stemmer: "interviews"
# finds "interview", "Казахстан" finds "Казахстане".
MIN_PREFIX = 4
WORD = re.compile(r"\w+")


def query_prefixes(query: str) -> list[str]:
    """Lower-case prefixes of the query's words, longest first."""
    words = {w.lower() for w in WORD.findall(query)}
    prefixes = {w if len(w) <= MIN_PREFIX else w[:max(MIN_PREFIX, len(w) - 2)] for w in words}
    return sorted(prefixes, key=len, reverse=True)


def snippet(query: str, *texts: str | None, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of the first text that holds a query word, around that word;
    the start of the first non-empty text when none does."""
    prefixes = query_prefixes(query)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, prefixes)) + r")\w*",
                         re.IGNORECASE) if prefixes else None
    present = [" ".join(t.split()) for t in texts if t and t.strip()]
    for text in present:
        match = pattern.search(text) if pattern else None
        if match:
            start = max(0, match.start() - width // 3)
            return _cut(text, start, width)
    return _cut(present[0], 0, width) if present else ""


def _cut(text: str, start: int, width: int) -> str:
    if start > 0:  # start at a word
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = start + width
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")
