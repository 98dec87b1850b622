"""Bookkeeping tables: `quarantine` (rejected records) and `loads` (one row per flow run)."""

import pyarrow as pa

from sco_etl.schemas.table import UTC_TIMESTAMP, Column, Table

QUARANTINE = Table(
    name="quarantine",
    doc="Every rejected record, with the reason, so nothing is silently dropped.",
    columns=(
        Column("dataset", pa.string()),
        Column("reason", pa.string()),
        Column("record", pa.string(), doc="the raw record as JSON text"),
        Column("run_id", pa.string()),
        Column("quarantined_at", UTC_TIMESTAMP),
    ),
    key=("dataset", "record", "reason"),
    partition_by=("year",),
    partition_column="quarantined_at",
)

LOADS = Table(
    name="loads",
    doc="One row per flow run: what it was asked, what it wrote and rejected, how it ended.",
    columns=(
        Column("run_id", pa.string()),
        Column("flow", pa.string()),
        Column("parameters", pa.string(), doc="JSON text"),
        Column("started_at", UTC_TIMESTAMP),
        Column("finished_at", UTC_TIMESTAMP),
        Column("status", pa.string(), doc="completed or failed"),
        Column("rows_written", pa.int64()),
        Column("rows_rejected", pa.int64()),
        Column("requests", pa.int64(), nullable=True, doc="HTTP requests made"),
        Column("message", pa.string(), nullable=True),
    ),
    key=("run_id",),
    partition_by=("year",),
    partition_column="started_at",
)
