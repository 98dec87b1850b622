"""Read-only access to the catalog for `sco-etl query` and anyone else.

Read-only is enforced by DuckDB, not by reading the SQL: the connection is opened read-only,
can reach no file outside the data directory, and cannot change its own configuration; and
DuckDB's parser must classify every statement as a query.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from schemas.errors import ReadOnlyQueryError, WarehouseError
from warehouse.store import Warehouse

QUERY_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def connect_read_only(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the catalog, confined to the data directory."""
    path = warehouse.ensure_catalog()
    connection = duckdb.connect(str(path), read_only=True)
    connection.execute("SET allowed_directories = [?]", [str(warehouse.root)])
    connection.execute("SET enable_external_access = false")
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET lock_configuration = true")
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
