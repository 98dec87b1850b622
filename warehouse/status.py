"""What the warehouse holds: counts, latest dates, recent loads (for `sco-etl status`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from schemas import LOADS, RATES, UNPUBLISHED_DATES
from warehouse.catalog import BASE_TABLES
from warehouse.store import Warehouse


@dataclass
class WarehouseStatus:
    """A snapshot of the warehouse for operators."""

    row_counts: dict[str, int]
    latest_rate_date: dt.date | None
    first_rate_date: dt.date | None
    rate_dates: set[dt.date]
    unpublished_dates: set[dt.date]
    recent_loads: list[dict]


def warehouse_status(warehouse: Warehouse, loads: int = 5) -> WarehouseStatus:
    counts = {t.name: warehouse.read(t, columns=[t.key[0]]).num_rows for t in BASE_TABLES}
    dates = warehouse.read(RATES, columns=["rate_date"]).column("rate_date")
    ledger = warehouse.read(LOADS)
    recent = ledger.sort_by([("started_at", "descending")]).slice(0, loads).to_pylist()
    return WarehouseStatus(
        row_counts=counts,
        latest_rate_date=pc.max(dates).as_py() if len(dates) else None,
        first_rate_date=pc.min(dates).as_py() if len(dates) else None,
        rate_dates=set(pc.unique(dates).to_pylist()) if len(dates) else set(),
        unpublished_dates=set(warehouse.read(UNPUBLISHED_DATES, columns=["rate_date"])
                              .column("rate_date").to_pylist()),
        recent_loads=recent,
    )


def present_dates(warehouse: Warehouse, table=RATES, column: str = "rate_date") -> pa.Array:
    return pc.unique(warehouse.read(table, columns=[column]).column(column))
