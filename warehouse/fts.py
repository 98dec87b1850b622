"""Changing a DuckDB `fts` index document by document, instead of building it again.

`PRAGMA create_fts_index` tokenises and stems every document of its table: seconds for 10,000
news items, almost all of the search file's build time, and it cannot add or drop one
document. What it builds is plain tables in the schema `fts_main_<table>` — `docs(docid, name,
len)`, `terms(docid, fieldid, termid)`, `dict(termid, term, df)`, `stats(num_docs, avgdl)`,
`fields`, `stopwords` — and the macros `tokenize` and `match_bm25` that read them.
`update_index` drops the rows of the documents that went or changed and adds the new versions
through the index's own `tokenize` macro, stemmer and stopwords, then recounts the document
frequency of every term it touched and the stats. BM25 scores then come out exactly as after
a full build (document ids differ; only joins read them).

This leans on the table layout of the pinned fts extension (DuckDB 1.5.x); the tests compare
every score with a full build's, so an extension that changes it fails there, not in searches.
"""

from __future__ import annotations

import duckdb

from sco_etl.warehouse.lake import quote

FIELDS = ("title", "summary", "body")


def create_index(connection: duckdb.DuckDBPyConnection, table: str, stemmer: str,
                 stopwords: str, ignore: str) -> None:
    """`PRAGMA create_fts_index` over `table` (item_id, title, summary, body)."""
    fields = ", ".join(quote(f) for f in FIELDS)
    connection.execute(
        f"PRAGMA create_fts_index({quote(table)}, 'item_id', {fields}, "
        f"stemmer={quote(stemmer)}, stopwords={quote(stopwords)}, "
        f"ignore={quote(ignore)}, strip_accents=0, lower=1, overwrite=1)")


def update_index(connection: duckdb.DuckDBPyConnection, table: str, stemmer: str,
                 gone: str, fresh: str) -> None:
    """Remove the documents named in `gone` (a relation of item_id) from `table` and its
    index, and add those of `fresh` (item_id, title, summary, body)."""
    index = f"fts_main_{table}"
    words = " UNION ALL ".join(
        f"SELECT unnest({index}.tokenize({field})) AS w, docid, "
        f"(SELECT fieldid FROM {index}.fields WHERE field = {quote(field)}) AS fieldid "
        f"FROM temp.main.fts_new" for field in FIELDS)
    for statement in (
        f"""CREATE OR REPLACE TEMP TABLE fts_gone AS
            SELECT docid FROM {index}.docs WHERE name IN (SELECT item_id FROM {gone})""",
        f"""CREATE OR REPLACE TEMP TABLE fts_touched AS
            SELECT DISTINCT termid FROM {index}.terms
            WHERE docid IN (SELECT docid FROM temp.main.fts_gone)""",
        f"DELETE FROM {index}.terms WHERE docid IN (SELECT docid FROM temp.main.fts_gone)",
        f"DELETE FROM {index}.docs WHERE docid IN (SELECT docid FROM temp.main.fts_gone)",
        f"DELETE FROM {table} WHERE item_id IN (SELECT item_id FROM {gone})",
        f"INSERT INTO {table} SELECT item_id, title, summary, body FROM {fresh}",
        f"""CREATE OR REPLACE TEMP TABLE fts_new AS
            SELECT (SELECT coalesce(max(docid), -1) FROM {index}.docs)
                   + row_number() OVER (ORDER BY item_id) AS docid,
                   item_id, title, summary, body
            FROM {fresh}""",
        f"""CREATE OR REPLACE TEMP TABLE fts_words AS
            SELECT stem(w, {quote(stemmer)}) AS term, docid, fieldid FROM ({words})
            WHERE w NOT NULL AND len(w) > 0
              AND w NOT IN (SELECT sw FROM {index}.stopwords)""",
        f"""INSERT INTO {index}.dict (termid, term, df)
            SELECT (SELECT coalesce(max(termid), -1) FROM {index}.dict)
                   + row_number() OVER (ORDER BY term), term, 0
            FROM (SELECT DISTINCT term FROM temp.main.fts_words) AS new_terms
            WHERE term NOT IN (SELECT term FROM {index}.dict)""",
        f"""INSERT INTO {index}.terms (docid, fieldid, termid)
            SELECT w.docid, w.fieldid, d.termid
            FROM temp.main.fts_words w JOIN {index}.dict d USING (term)""",
        f"""INSERT INTO {index}.docs (docid, name, len)
            SELECT n.docid, n.item_id, count(w.term)
            FROM temp.main.fts_new n LEFT JOIN temp.main.fts_words w USING (docid)
            GROUP BY n.docid, n.item_id""",
        f"""INSERT INTO temp.main.fts_touched
            SELECT DISTINCT d.termid FROM temp.main.fts_words w JOIN {index}.dict d USING (term)""",
        f"""UPDATE {index}.dict SET df = counted.df FROM (
                SELECT t.termid, count(DISTINCT terms.docid) AS df
                FROM (SELECT DISTINCT termid FROM temp.main.fts_touched) t
                LEFT JOIN {index}.terms terms USING (termid) GROUP BY t.termid) counted
            WHERE {index}.dict.termid = counted.termid""",
        f"DELETE FROM {index}.dict WHERE df = 0",
        f"DELETE FROM {index}.stats",
        f"""INSERT INTO {index}.stats
            SELECT count(docs.docid), sum(docs.len) / count(docs.len) FROM {index}.docs docs""",
    ):
        connection.execute(statement)
    for name in ("fts_gone", "fts_touched", "fts_new", "fts_words"):
        connection.execute(f"DROP TABLE IF EXISTS temp.main.{name}")
