"""Rows for the bookkeeping tables: quarantine and the loads ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas import LOADS, QUARANTINE
from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.table import Rejection
from sco_etl.tasks.run import Run


@dataclass
class LoadCounts:
    """What a run did to its main table: rows inserted, updated, unchanged, records sent to
    quarantine, earlier versions kept in the revisions table, partitions rewritten."""

    inserted: int
    updated: int
    unchanged: int
    rejected: int
    revisions: int
    partitions: list[str]


def quarantine_rows(dataset: str, rejections: list[Rejection], run: Run) -> pa.Table:
    now = utc_now()
    return pa.Table.from_pylist(
        [{"dataset": dataset, "reason": r.reason, "record": r.record_json(),
          "run_id": run.run_id, "quarantined_at": now} for r in rejections],
        schema=QUARANTINE.arrow_schema,
    )


def load_row(
    run: Run, status: str, rows_written: int, rows_rejected: int,
    requests: int | None, message: str | None,
) -> pa.Table:
    return pa.Table.from_pylist([{
        "run_id": run.run_id, "flow": run.flow,
        "parameters": json.dumps(run.parameters, default=str, sort_keys=True),
        "started_at": run.started_at, "finished_at": utc_now(), "status": status,
        "rows_written": rows_written, "rows_rejected": rows_rejected,
        "requests": requests, "message": message,
    }], schema=LOADS.arrow_schema)
