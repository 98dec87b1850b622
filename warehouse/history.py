"""The warehouse's past: its snapshots, and what each table gained or changed since a moment.

Time travel itself is a read at a moment (`Warehouse.reader(known_at=…)`, `run_query(…,
known_at=…)`): DuckLake attaches the snapshot that was current then, views and all.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from sco_etl.warehouse.ddl import BASE_TABLES
from sco_etl.warehouse.lake import LAKE_ALIAS
from sco_etl.warehouse.store import Warehouse

CHANGES_SCHEMA = pa.schema([("table", pa.string()), ("inserted", pa.int64()),
                            ("updated", pa.int64()), ("deleted", pa.int64())])


def snapshots(warehouse: Warehouse, since: dt.datetime | None = None) -> pa.Table:
    """Snapshot id, time, commit message and what it changed; newest last."""
    with warehouse.reader() as connection:
        return connection.execute(
            f"SELECT snapshot_id, snapshot_time, commit_message, changes "
            f"FROM {LAKE_ALIAS}.snapshots() "
            "WHERE snapshot_time > coalesce(?::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ) "
            "ORDER BY snapshot_id", [since]).to_arrow_table()


def first_snapshot_time(warehouse: Warehouse) -> dt.datetime:
    """When the warehouse's oldest snapshot with its tables was committed: the earliest
    moment time travel can answer (DuckLake's bare snapshot 0 holds no table yet)."""
    with warehouse.reader() as connection:
        (first,) = connection.execute(
            f"SELECT min(snapshot_time) FILTER (WHERE snapshot_id > 0) "
            f"FROM {LAKE_ALIAS}.snapshots()").fetchone()
    return first


def changes(warehouse: Warehouse, since: dt.datetime) -> pa.Table:
    """Per table: keys inserted, updated and deleted by the snapshots committed after `since`.

    An upsert replaces a changed row by a delete and an insert of the same key: that pair
    counts as an update.
    """
    rows = []
    with warehouse.reader() as connection:
        first, last = _snapshot_range(connection, since)
        if first is None:
            return pa.Table.from_pylist([], schema=CHANGES_SCHEMA)
        for table in BASE_TABLES:
            key = ", ".join(f'"{k}"' for k in table.key)
            inserted, updated, deleted = connection.execute(f"""
                WITH c AS (SELECT * FROM ducklake_table_changes(?, 'main', ?, ?, ?)),
                added AS (SELECT DISTINCT {key} FROM c
                          WHERE change_type IN ('insert', 'update_postimage')),
                removed AS (SELECT DISTINCT {key} FROM c
                            WHERE change_type IN ('delete', 'update_preimage'))
                SELECT (SELECT count(*) FROM added ANTI JOIN removed USING ({key})),
                       (SELECT count(*) FROM added SEMI JOIN removed USING ({key})),
                       (SELECT count(*) FROM removed ANTI JOIN added USING ({key}))""",
                [LAKE_ALIAS, table.name, first, last]).fetchone()
            if inserted or updated or deleted:
                rows.append({"table": table.name, "inserted": inserted, "updated": updated,
                             "deleted": deleted})
    return pa.Table.from_pylist(rows, schema=CHANGES_SCHEMA)


def table_changes(warehouse: Warehouse, table: str, since: dt.datetime) -> pa.Table:
    """The changed rows of one table since `since`, with DuckLake's snapshot and change type."""
    with warehouse.reader() as connection:
        first, last = _snapshot_range(connection, since)
        if first is None:
            return pa.table({})
        return connection.execute(
            "SELECT * FROM ducklake_table_changes(?, 'main', ?, ?, ?) "
            "ORDER BY snapshot_id, rowid", [LAKE_ALIAS, table, first, last]).to_arrow_table()


def _snapshot_range(connection, since: dt.datetime) -> tuple[int | None, int | None]:
    return connection.execute(
        f"SELECT min(snapshot_id), max(snapshot_id) FROM {LAKE_ALIAS}.snapshots() "
        "WHERE snapshot_time > ?::TIMESTAMPTZ", [since]).fetchone()
