"""What the warehouse holds: counts, latest dates, recent loads (for `sco-etl status`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sco_etl.schemas import LOADS, RATES, UNPUBLISHED_DATES
from sco_etl.warehouse.ddl import BASE_TABLES
from sco_etl.warehouse.lake import LAKE_ALIAS
from sco_etl.warehouse.store import Warehouse, distinct_values


@dataclass
class WarehouseStatus:
    """A snapshot of the warehouse for operators."""

    row_counts: dict[str, int]
    latest_rate_date: dt.date | None
    first_rate_date: dt.date | None
    rate_dates: set[dt.date]
    unpublished_dates: set[dt.date]
    recent_loads: list[dict]
    snapshot_id: int
    snapshot_time: dt.datetime | None


def warehouse_status(warehouse: Warehouse, loads: int = 5) -> WarehouseStatus:
    """Everything below comes from one snapshot."""
    with warehouse.reader() as connection:
        counts = {t.name: connection.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0]
                  for t in BASE_TABLES}
        dates = distinct_values(connection, RATES, "rate_date")
        recent = connection.execute(
            f'SELECT * FROM "{LOADS.name}" ORDER BY started_at DESC LIMIT ?', [loads]
        ).to_arrow_table().to_pylist()
        unpublished = set(distinct_values(connection, UNPUBLISHED_DATES, "rate_date"))
        snapshot_id, snapshot_time = connection.execute(
            f"SELECT snapshot_id, snapshot_time FROM {LAKE_ALIAS}.snapshots() "
            "ORDER BY snapshot_id DESC LIMIT 1").fetchone()
    return WarehouseStatus(
        row_counts=counts,
        latest_rate_date=dates[-1] if dates else None,
        first_rate_date=dates[0] if dates else None,
        rate_dates=set(dates),
        unpublished_dates=unpublished,
        recent_loads=recent,
        snapshot_id=snapshot_id,
        snapshot_time=snapshot_time,
    )
