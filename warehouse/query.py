"""Read-only access to the warehouse for `sco-etl query` and anyone else.

Read-only is enforced by DuckDB, not only by reading the SQL: the lake is attached READ_ONLY,
the connection may open only the catalog file and the lake's data folder, cannot change its
own configuration or load extensions, and DuckDB's parser must classify the statement as a
query. `EXPLAIN ANALYZE` runs the statement it explains, so that one must be a query too
(issue 5: `EXPLAIN ANALYZE COPY … TO` once wrote into the data directory).

One gap is left to the statement check: DuckDB has no read-only allowed directory, so the
connection that must read the data folder could also write a new file into it. `run_query`
refuses COPY and EXPORT (also inside EXPLAIN ANALYZE); a file written there by other means is
listed by no snapshot, so no reader sees it, and maintenance deletes it as an orphan.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from sco_etl.schemas.errors import ReadOnlyQueryError, WarehouseError
from sco_etl.warehouse.lake import connect
from sco_etl.warehouse.store import Warehouse

QUERY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
EXPLAIN_PREFIX = re.compile(r"^\s*EXPLAIN\s+(\(\s*[^)]*\)\s*|ANALY[SZ]E\s+)*", re.IGNORECASE)


def connect_read_only(warehouse: Warehouse,
                      known_at: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to one snapshot that can write, open or attach nothing else."""
    warehouse.require()
    return connect(warehouse.lake, read_only=True, snapshot_time=known_at, locked=True)


def check_query(sql: str) -> None:
    """Refuse anything but one query (ReadOnlyQueryError; WarehouseError, with DuckDB's own
    message, for SQL it cannot parse)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise WarehouseError(f"cannot parse the query: {e}") from e
    if len(statements) != 1:
        raise ReadOnlyQueryError(f"give exactly one SQL statement, not {len(statements)}")
    kind = statements[0].type
    if kind == duckdb.StatementType.EXPLAIN:
        explained = EXPLAIN_PREFIX.sub("", statements[0].query, count=1)
        inner = duckdb.extract_statements(explained) if explained.strip() else []
        kind = inner[0].type if len(inner) == 1 else kind
    if kind not in QUERY_STATEMENTS:
        name = kind.name
        article = "an" if name[0] in "AEIOU" else "a"
        raise ReadOnlyQueryError(
            f"refused {article} {name} statement: `sco-etl query` only reads. "
            "Change data through the ingestion commands.")


def run_query(warehouse: Warehouse, sql: str, parameters: list | None = None,
              known_at: str | None = None) -> pa.Table:
    """Run one read-only query on the latest snapshot (or the one at `known_at`)."""
    check_query(sql)
    with connect_read_only(warehouse, known_at) as connection:
        try:
            return connection.sql(sql, params=parameters or None).to_arrow_table()
        except duckdb.Error as e:
            raise WarehouseError(f"query failed: {_positioned(connection, sql, parameters, e)}"
                                 ) from e


def _positioned(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list | None,
                error: duckdb.Error) -> str:
    """DuckDB's message with its `LINE 1: ... ^` position, which only `execute` reports."""
    if not isinstance(error, duckdb.BinderException | duckdb.CatalogException):
        return str(error)  # a failure while running: do not run the query a second time
    try:
        connection.execute(sql, parameters or None)
    except duckdb.Error as again:
        return str(again)
    return str(error)
