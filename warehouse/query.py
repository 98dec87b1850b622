"""Read-only access to the catalog for `sco-etl query` and anyone else.

Read-only is enforced by DuckDB, not by reading the SQL: the catalog is attached read-only,
the connection can reach no file at all and cannot change its own configuration; and
DuckDB's parser must classify every statement as a query.

The connection reads the tables through Arrow datasets registered under the tables' names:
DuckDB binds the catalog's views and macros to them, so it needs no file access. (Allowing
the data directory instead let `COPY ... TO` and `EXPORT DATABASE` write into it — even through
`EXPLAIN ANALYZE COPY`, which the statement check classifies as EXPLAIN: issue 5.) It runs
in a DuckDB instance of its own: settings belong to an instance, and one opened on the
catalog file would be shared with, and lock down, every other connection to it in this
process.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from schemas.errors import ReadOnlyQueryError, WarehouseError
from warehouse import catalog
from warehouse.store import Warehouse

QUERY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def connect_read_only(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog that can open, write or attach no file."""
    path = warehouse.ensure_catalog()
    connection = duckdb.connect(":memory:")
    try:
        connection.execute("ATTACH ? AS sco (READ_ONLY)", [str(path)])
        connection.execute("USE sco")
        for table in catalog.BASE_TABLES:
            # A temporary view of the same name: it shadows the catalog's file-reading view.
            connection.register(table.name, warehouse.dataset(table))
        connection.execute("SET enable_external_access = false")
        connection.execute("SET autoinstall_known_extensions = false")
        connection.execute("SET autoload_known_extensions = false")
        connection.execute("SET lock_configuration = true")
    except BaseException:
        connection.close()
        raise
    return connection


def run_query(warehouse: Warehouse, sql: str, parameters: list | None = None) -> pa.Table:
    """Run one read-only query and return its result.

    Raises:
        ReadOnlyQueryError: the SQL is not a query (it would write, attach, set or copy).
        WarehouseError: DuckDB could not run it; the message is DuckDB's own.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise WarehouseError(f"cannot parse the query: {e}") from e
    if len(statements) != 1:
        raise ReadOnlyQueryError(f"give exactly one SQL statement, not {len(statements)}")
    kind = statements[0].type
    if kind not in QUERY_STATEMENTS:
        raise ReadOnlyQueryError(
            f"refused a {kind.name} statement: `sco-etl query` only reads. "
            "Change data through the ingestion commands."
        )
    connection = connect_read_only(warehouse)
    try:
        return connection.sql(sql, params=parameters or None).to_arrow_table()
    except duckdb.Error as e:
        raise WarehouseError(f"query failed: {e}") from e
    finally:
        connection.close()
