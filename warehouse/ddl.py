"""The lake's schema, derived from the table declarations: tables, partitioning, views.

It is (re)applied only when its digest changes, so an ordinary run adds no schema snapshot.
"""

from __future__ import annotations

import hashlib

import duckdb
import pyarrow as pa

from sco_etl.schemas import (
    COUNTRY_TERMS,
    CURRENCIES,
    CURRENCY_LINEAGE,
    FEED_STATE,
    LOADS,
    NEWS,
    NEWS_MENTIONS,
    NEWS_REVISIONS,
    QUARANTINE,
    RATE_REVISIONS,
    RATES,
    SCO_COUNTRIES,
    UNPUBLISHED_DATES,
)
from sco_etl.schemas.table import Table
from sco_etl.warehouse.lake import quote
from sco_etl.warehouse.views import DERIVED_VIEWS

BASE_TABLES: tuple[Table, ...] = (
    RATES, RATE_REVISIONS, CURRENCIES, SCO_COUNTRIES, CURRENCY_LINEAGE, QUARANTINE, LOADS,
    NEWS, NEWS_REVISIONS, FEED_STATE, UNPUBLISHED_DATES, COUNTRY_TERMS, NEWS_MENTIONS,
)
RETIRED_TABLES = ("news_item_hashes",)
"""Tables an earlier release kept and this one drops (version 3: the raw hashes of news items,
a fast path for a 10,000-item feed that realistic feeds do not need)."""
SCHEMA_VERSION = 3
"""Raised with every release that changes a declaration: a lake is only ever moved forward,
so an older sco-etl writing next to a newer one never takes its columns or views away."""
META_TABLE = "lake_meta"
"""One row: the schema version and digest, and a commit counter every data-changing
transaction bumps.

Two writers that both bump it delete from the same data file, which DuckLake reports as a
conflict: so two transactions that both insert the same new key cannot both commit.
"""


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


def create_table_sql(table: Table) -> list[str]:
    columns = ", ".join(f'"{c.name}" {duckdb_type(c.type)}' for c in table.columns)
    statements = [f'CREATE TABLE IF NOT EXISTS "{table.name}" ({columns})']
    # A lake made by an earlier version gains the columns declared since (DuckLake keeps
    # the older files readable: their rows read NULL there).
    statements += [f'ALTER TABLE "{table.name}" ADD COLUMN IF NOT EXISTS "{c.name}" '
                   f"{duckdb_type(c.type)}" for c in table.columns]
    if table.partition_by:
        levels = ", ".join(f'{level}("{table.partition_column}")' for level in table.partition_by)
        statements.append(f'ALTER TABLE "{table.name}" SET PARTITIONED BY ({levels})')
    if table.doc:
        statements.append(f'COMMENT ON TABLE "{table.name}" IS {quote(table.doc)}')
    return statements


def schema_statements() -> list[str]:
    statements = [
        # Every write lands in Parquet files: the catalog holds metadata only, and exports,
        # `ducklake_list_files` and the hive layout show all data.
        "CALL sco.set_option('data_inlining_row_limit', 0)",
        f"CREATE TABLE IF NOT EXISTS {META_TABLE} "
        "(schema_version INTEGER, schema_digest VARCHAR, commits BIGINT)",
    ]
    for table in BASE_TABLES:
        statements += create_table_sql(table)
    statements += [f'DROP TABLE IF EXISTS "{name}"' for name in RETIRED_TABLES]
    return statements + list(DERIVED_VIEWS)


def schema_digest() -> str:
    return hashlib.sha256("\n;\n".join(schema_statements()).encode()).hexdigest()[:16]


def stored_schema(connection: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """The (version, digest) the lake was last brought to; None for a lake not created yet."""
    # The name inline, not a parameter: binding a process's first parameter loads pandas.
    exists = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'sco' "
        f"AND table_name = '{META_TABLE}'").fetchone()[0]
    if not exists:
        return None
    return connection.execute(
        f"SELECT schema_version, schema_digest FROM {META_TABLE}").fetchone()


def needs_schema(stored: tuple[int, str] | None, digest: str) -> bool:
    """Whether to (re)apply the schema: to a new lake, or one at an older version or digest."""
    if stored is None:
        return True
    version, stored_digest = stored
    return version < SCHEMA_VERSION or (version == SCHEMA_VERSION and stored_digest != digest)


def apply_schema(connection: duckdb.DuckDBPyConnection, digest: str) -> None:
    """Create what is missing and replace every view, inside the caller's transaction."""
    for statement in schema_statements():
        connection.execute(statement)
    connection.execute(f"DELETE FROM {META_TABLE}")
    connection.execute(f"INSERT INTO {META_TABLE} VALUES (?, ?, 0)", [SCHEMA_VERSION, digest])
