"""The DuckDB file: views and macros over the Parquet files, rebuilt after every commit.

The file is built under a temporary name and renamed into place, so it is held read-write
only by the builder, and only for that moment: readers that opened the previous file keep
working, new readers get the new one.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas import (
    CURRENCIES,
    CURRENCY_LINEAGE,
    FEED_STATE,
    LOADS,
    NEWS,
    NEWS_REVISIONS,
    QUARANTINE,
    RATE_REVISIONS,
    RATES,
    SCO_COUNTRIES,
    UNPUBLISHED_DATES,
)
from schemas.table import Table
from warehouse.layout import CATALOG_FILE, file_glob
from warehouse.views import DERIVED_VIEWS

BASE_TABLES: list[Table] = [
    RATES, RATE_REVISIONS, CURRENCIES, SCO_COUNTRIES, CURRENCY_LINEAGE, QUARANTINE, LOADS,
    NEWS, NEWS_REVISIONS, FEED_STATE, UNPUBLISHED_DATES,
]


def register(table: Table) -> None:
    """Add a table declared outside this module (the news tables) to the catalog."""
    if table.name not in {t.name for t in BASE_TABLES}:
        BASE_TABLES.append(table)


def duckdb_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    simple = {
        pa.date32(): "DATE", pa.string(): "VARCHAR", pa.int32(): "INTEGER",
        pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN", pa.float64(): "DOUBLE",
    }
    return simple[arrow_type]


def table_view_sql(root: Path, table: Table) -> str:
    """A view over the table's files, or a typed empty relation while it has none."""
    glob = file_glob(root, table)
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    if _has_files(root, table):
        hive = "true" if table.partition_by else "false"
        source = (
            f"read_parquet('{_quote(glob)}', hive_partitioning={hive}, union_by_name=true)"
        )
        return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {columns} FROM {source}'
    typed = ", ".join(f'CAST(NULL AS {duckdb_type(c.type)}) AS "{c.name}"' for c in table.columns)
    return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {typed} WHERE false'


def build(root: Path) -> Path:
    """(Re)create the catalog file from the current Parquet files; return its path."""
    root = root.resolve()
    final = root / CATALOG_FILE
    tmp = root / f".{CATALOG_FILE}.{uuid.uuid4().hex[:8]}.tmp"
    connection = duckdb.connect(str(tmp))
    try:
        for table in BASE_TABLES:
            connection.execute(table_view_sql(root, table))
            if table.doc:
                connection.execute(f"COMMENT ON VIEW \"{table.name}\" IS '{_quote(table.doc)}'")
        for statement in DERIVED_VIEWS:
            connection.execute(statement)
        connection.execute("CHECKPOINT")
    except BaseException:
        connection.close()
        tmp.unlink(missing_ok=True)
        raise
    connection.close()
    os.replace(tmp, final)
    return final


def _has_files(root: Path, table: Table) -> bool:
    return any(Path("/").glob(file_glob(root, table).lstrip("/")))


def _quote(text: str) -> str:
    return text.replace("'", "''")
