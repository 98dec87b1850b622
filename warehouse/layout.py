"""Where each table lives under the data directory. Nothing outside `warehouse/` knows this."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from schemas.table import Table

DATA_FILE = "data.parquet"
CATALOG_FILE = "sco.duckdb"


def table_dir(root: Path, table: Table) -> Path:
    return root / table.name


def partition_path(root: Path, table: Table, values: tuple[int, ...]) -> Path:
    """`<root>/<table>/year=2025/data.parquet`; values are integers, so no input reaches a path."""
    levels = zip(table.partition_by, values, strict=True)
    parts = [f"{level}={int(value)}" for level, value in levels]
    return table_dir(root, table).joinpath(*parts, DATA_FILE)


def file_glob(root: Path, table: Table) -> str:
    depth = "/".join("*" for _ in table.partition_by)
    return str(table_dir(root, table) / depth / DATA_FILE) if depth else str(
        table_dir(root, table) / DATA_FILE
    )


def split_by_partition(table: Table, rows: pa.Table) -> dict[tuple[int, ...], pa.Table]:
    """Group rows by their partition values (year, or year and month) of `partition_column`."""
    if not table.partition_by:
        return {(): rows}
    column = rows.column(table.partition_column)
    levels = {"year": pc.year(column), "month": pc.month(column)}
    keys = pa.table({level: levels[level] for level in table.partition_by})
    groups: dict[tuple[int, ...], pa.Table] = {}
    for values in keys.group_by(list(table.partition_by)).aggregate([]).to_pylist():
        wanted = tuple(values[level] for level in table.partition_by)
        mask = None
        for level, value in zip(table.partition_by, wanted, strict=True):
            match = pc.equal(levels[level], value)
            mask = match if mask is None else pc.and_(mask, match)
        groups[wanted] = rows.filter(mask)
    return groups
