"""Keeping the lake small: merge small files, expire old snapshots, delete unneeded files.

Every run adds a few small Parquet files (one per partition it touched); a year of daily runs
would leave thousands. Merging rewrites them into one file per partition; expiring snapshots
past the retention window ends time travel before it and lets their files go.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.errors import WarehouseError
from sco_etl.warehouse.lake import LAKE_ALIAS, connect
from sco_etl.warehouse.store import Warehouse, is_conflict

DEFAULT_RETENTION_DAYS = 90
ORPHAN_GRACE = dt.timedelta(hours=1)
"""A file newer than this that no snapshot lists may belong to a writer still running."""
REWRITE_DELETE_SHARE = 0.25
"""A data file with more than this share of its rows deleted is rewritten without them."""


@dataclass
class Maintained:
    """What a maintenance run did, and the lake's size after it."""

    files_before: int
    files_after: int
    snapshots_expired: int
    files_deleted: int
    orphans_deleted: int
    bytes_after: int
    catalog_bytes: int | None


def maintain(warehouse: Warehouse, retention_days: float = DEFAULT_RETENTION_DAYS,
             orphan_grace: dt.timedelta = ORPHAN_GRACE,
             now: dt.datetime | None = None) -> Maintained:
    """Merge small files, expire snapshots older than the retention, delete unneeded files
    (WarehouseError, with DuckDB's message, when DuckLake refuses)."""
    now = now or utc_now()
    warehouse.migrate()
    before = lake_files(warehouse)
    connection = connect(warehouse.lake)
    try:
        _call(connection, f"CALL ducklake_rewrite_data_files('{LAKE_ALIAS}', "
                          f"delete_threshold => {REWRITE_DELETE_SHARE})")
        _call(connection, f"CALL ducklake_merge_adjacent_files('{LAKE_ALIAS}')")
        cutoff = now - dt.timedelta(days=retention_days)
        expired = _call(connection, f"CALL ducklake_expire_snapshots('{LAKE_ALIAS}', "
                                    "older_than => ?::TIMESTAMPTZ)", [cutoff])
        deleted = _call(connection, f"CALL ducklake_cleanup_old_files('{LAKE_ALIAS}', "
                                    "cleanup_all => true)")
        orphans = _call(connection, f"CALL ducklake_delete_orphaned_files('{LAKE_ALIAS}', "
                                    "older_than => ?::TIMESTAMPTZ)", [now - orphan_grace])
    finally:
        connection.close()
    after = lake_files(warehouse)
    sqlite = warehouse.lake.sqlite_file
    return Maintained(
        files_before=len(before), files_after=len(after), snapshots_expired=len(expired),
        files_deleted=len(deleted), orphans_deleted=len(orphans),
        bytes_after=sum(after.values()),
        catalog_bytes=sqlite.stat().st_size if sqlite is not None else None,
    )


def lake_files(warehouse: Warehouse) -> dict[str, int]:
    """Every Parquet file under the data path (listed or not), with its size in bytes."""
    connection = connect(warehouse.lake, read_only=True)
    try:
        pattern = warehouse.lake.data_path + "**/*.parquet"
        rows = connection.execute("SELECT filename, size FROM read_blob(?)", [pattern]).fetchall()
    except duckdb.IOException:
        rows = []  # no file written yet
    finally:
        connection.close()
    return dict(rows)


def _call(connection: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None
          ) -> list[tuple]:
    try:
        return connection.execute(sql, parameters or []).fetchall()
    except duckdb.Error as error:
        hint = ("another writer was committing; run maintenance again" if is_conflict(error)
                else "the warehouse was not changed by this step")
        raise WarehouseError(f"maintenance failed: {error} ({hint})") from error
