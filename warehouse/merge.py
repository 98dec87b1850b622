"""How incoming rows combine with the stored ones, in SQL inside the writer's transaction.

The incoming Arrow table is staged as a temporary table; the diff against the stored rows
is computed by DuckDB, and only changed or new rows are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from sco_etl.schemas.table import LINEAGE_COLUMNS, Table

__all__ = ["LINEAGE_COLUMNS", "UpsertResult", "delete_keys", "insert_new", "replace_all",
           "upsert"]
ORDINAL = "__ordinal"
INCOMING = "temp.main.incoming"


@dataclass
class UpsertResult:
    """What an upsert did.

    Attributes:
        inserted: rows whose key was new.
        updated: rows whose key existed with different versioned columns (a new version).
        unchanged: rows whose key was stored with the same versioned columns (left as stored).
        replaced: the stored versions of the updated rows (for revision logs).
        partitions: the hive partitions that gained rows, e.g. `rates/year=2025`.
        inserted_keys: the keys of the inserted rows.
    """

    inserted: int
    updated: int
    unchanged: int
    replaced: pa.Table
    partitions: list[str] = field(default_factory=list)
    inserted_keys: pa.Table | None = None


def upsert(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> UpsertResult:
    """Insert new keys, replace rows whose versioned columns changed, leave the others (their
    lineage and any column that is not versioned) as stored."""
    if rows.num_rows == 0:
        return UpsertResult(0, 0, 0, table.empty(),
                            inserted_keys=table.empty().select(list(table.key)))
    _stage(connection, table, rows)
    on = _key_match(table, "i", "s")
    compare = table.versioned_columns
    differs = " OR ".join(f'i."{c}" IS DISTINCT FROM s."{c}"' for c in compare) or "false"
    connection.execute(f"""
        CREATE OR REPLACE TEMP TABLE stored AS
        SELECT s.* FROM "{table.name}" s SEMI JOIN {INCOMING} i ON {on} {_bounds(table)}""")
    connection.execute(f"""
        CREATE OR REPLACE TEMP TABLE changed AS
        SELECT i.* FROM {INCOMING} i JOIN temp.main.stored s ON {on} WHERE {differs}""")
    connection.execute(f"""
        CREATE OR REPLACE TEMP TABLE fresh AS
        SELECT i.* FROM {INCOMING} i ANTI JOIN temp.main.stored s ON {on}""")
    replaced = connection.execute(
        f"SELECT {_columns(table, 's')} FROM temp.main.stored s "
        f"SEMI JOIN temp.main.changed i ON {on}"
    ).to_arrow_table()
    counts = connection.execute(
        "SELECT (SELECT count(*) FROM temp.main.changed), (SELECT count(*) FROM temp.main.fresh),"
        " (SELECT count(*) FROM temp.main.stored)").fetchone()
    updated, inserted, stored = counts
    inserted_keys = connection.execute(
        f"SELECT {_key_list(table)} FROM temp.main.fresh").to_arrow_table()
    if updated:
        _delete_matching(connection, table, "temp.main.changed")
    partitions: list[str] = []
    if updated or inserted:
        columns = _columns(table)
        connection.execute(f"""
            INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM (
                SELECT {columns} FROM temp.main.changed
                UNION ALL SELECT {columns} FROM temp.main.fresh)
            ORDER BY {_key_list(table)}""")
        partitions = _partitions(connection, table)
    for name in ("stored", "changed", "fresh", "incoming"):
        connection.execute(f"DROP TABLE IF EXISTS temp.main.{name}")
    key_schema = pa.schema([table.arrow_schema.field(k) for k in table.key])
    return UpsertResult(inserted, updated, stored - updated, replaced.cast(table.arrow_schema),
                        partitions, inserted_keys.cast(key_schema))


def insert_new(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> int:
    """Add the rows whose key is not stored yet; return how many."""
    if rows.num_rows == 0:
        return 0
    _stage(connection, table, rows)
    (added,) = connection.execute(f"""
        INSERT INTO "{table.name}" ({_columns(table)})
        SELECT {_columns(table, "i")} FROM {INCOMING} i
        ANTI JOIN "{table.name}" s ON {_key_match(table, "i", "s")}
        ORDER BY {_key_list(table, "i")}""").fetchone()
    connection.execute(f"DROP TABLE IF EXISTS {INCOMING}")
    return added


def delete_keys(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> int:
    """Remove the stored rows whose key is among `rows`; return how many."""
    if rows.num_rows == 0:
        return 0
    _stage(connection, table, rows)
    removed = _delete_matching(connection, table, INCOMING)
    connection.execute(f"DROP TABLE IF EXISTS {INCOMING}")
    return removed


def replace_all(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> bool:
    """Make `table` hold exactly `rows`, if it does not already; say whether it changed."""
    _stage(connection, table, rows)
    columns = _columns(table)
    (differences,) = connection.execute(f"""
        SELECT count(*) FROM (
            (SELECT {columns} FROM "{table.name}" EXCEPT ALL SELECT {columns} FROM {INCOMING})
            UNION ALL
            (SELECT {columns} FROM {INCOMING} EXCEPT ALL SELECT {columns} FROM "{table.name}"))
    """).fetchone()
    if differences:
        connection.execute(f'DELETE FROM "{table.name}"')
        connection.execute(f'INSERT INTO "{table.name}" ({columns}) '
                           f"SELECT {columns} FROM {INCOMING} ORDER BY {_key_list(table)}")
    connection.execute(f"DROP TABLE IF EXISTS {INCOMING}")
    return bool(differences)


def _stage(connection: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> None:
    """`rows` as the temporary table `incoming`, one row per key (the last one wins)."""
    typed = rows.select(table.column_names).cast(table.arrow_schema)
    typed = typed.append_column(ORDINAL, pa.array(range(typed.num_rows), pa.int64()))
    connection.register("incoming_arrow", typed)
    try:
        connection.execute(f"""
            CREATE OR REPLACE TEMP TABLE incoming AS
            SELECT * EXCLUDE ({ORDINAL}) FROM incoming_arrow
            QUALIFY row_number() OVER (PARTITION BY {_key_list(table)}
                                       ORDER BY {ORDINAL} DESC) = 1""")
    finally:
        connection.unregister("incoming_arrow")


def _delete_matching(connection: duckdb.DuckDBPyConnection, table: Table, source: str) -> int:
    match = " AND ".join(f'd."{k}" = "{table.name}"."{k}"' for k in table.key)
    (removed,) = connection.execute(
        f'DELETE FROM "{table.name}" WHERE EXISTS (SELECT 1 FROM {source} d WHERE {match})'
    ).fetchone()
    return removed


def _bounds(table: Table) -> str:
    """Prune partitions when the key fixes the partition (rates: the date is in the key)."""
    column = table.partition_column
    if not column or column not in table.key:
        return ""
    return (f'WHERE s."{column}" BETWEEN (SELECT min("{column}") FROM {INCOMING}) '
            f'AND (SELECT max("{column}") FROM {INCOMING})')


def _partitions(connection: duckdb.DuckDBPyConnection, table: Table) -> list[str]:
    if not table.partition_by:
        return [table.name]
    column = table.partition_column
    levels = ", ".join(f'{level}("{column}") AS {level}' for level in table.partition_by)
    written = connection.execute(f"""
        SELECT DISTINCT {levels} FROM (
            SELECT "{column}" FROM temp.main.changed UNION ALL
            SELECT "{column}" FROM temp.main.fresh) ORDER BY ALL""").fetchall()
    return ["/".join([table.name, *(f"{level}={value}" for level, value in
                                    zip(table.partition_by, values, strict=True))])
            for values in written]


def _key_match(table: Table, left: str, right: str) -> str:
    return " AND ".join(f'{left}."{k}" = {right}."{k}"' for k in table.key)


def _key_list(table: Table, alias: str | None = None) -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{k}"' for k in table.key)


def _columns(table: Table, alias: str | None = None) -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{c}"' for c in table.column_names)
