"""A plain hive-partitioned Parquet copy of the current snapshot, for tools without DuckLake.

Written to a temporary folder beside the target and renamed into place: a reader of the
target sees the previous export or the new one, never a half-written one.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sco_etl.schemas.errors import ConfigError
from sco_etl.warehouse.ddl import BASE_TABLES
from sco_etl.warehouse.lake import quote
from sco_etl.warehouse.store import Warehouse


def export(warehouse: Warehouse, target: Path) -> dict[str, int]:
    """Write every table of one snapshot under `target/<table>/…`; return rows per table
    (NoWarehouseError without a warehouse; ConfigError when `target` cannot be written)."""
    warehouse.require()
    target = target.expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"cannot write an export to {target}: it is a file, not a folder")
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as error:
        raise ConfigError(f"cannot write an export to {target}: "
                          f"{error.strerror or error}") from error
    counts: dict[str, int] = {}
    try:
        with warehouse.reader() as connection:
            connection.execute("BEGIN TRANSACTION")  # every table from the same snapshot
            for table in BASE_TABLES:
                folder = staging / table.name
                levels = [f'{level}("{table.partition_column}") AS {level}'
                          for level in table.partition_by]
                select = f'SELECT *{"".join(", " + lv for lv in levels)} FROM "{table.name}"'
                if table.partition_by:
                    options = f"FORMAT parquet, PARTITION_BY ({', '.join(table.partition_by)})"
                    destination = folder
                else:
                    folder.mkdir(parents=True)
                    options, destination = "FORMAT parquet", folder / "data.parquet"
                (rows,) = connection.execute(
                    f"COPY ({select} ORDER BY ALL) TO {quote(str(destination))} ({options})"
                ).fetchone()
                counts[table.name] = rows
            connection.execute("COMMIT")
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts


def swap_in(building: Path, folder: Path) -> None:
    """Rename `building` to `folder`. A folder cannot be renamed over a non-empty one, so the
    old one steps aside first (for the moment between two renames, there is none)."""
    old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}.old")
    if folder.exists():
        folder.rename(old)
    try:
        building.rename(folder)
    except OSError:
        if old.exists():
            old.rename(folder)
        raise
    shutil.rmtree(old, ignore_errors=True)
