"""The `maintain_warehouse` flow: merge small files, expire old snapshots, delete dead files."""

from __future__ import annotations

import dataclasses

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sco_etl.flows.config import resolve
from sco_etl.schemas.clock import utc_now
from sco_etl.warehouse.maintenance import DEFAULT_RETENTION_DAYS, maintain

compact = task(name="maintain-lake", cache_policy=NO_CACHE)(maintain)


@flow(name="maintain-warehouse", flow_run_name="maintain-{retention_days}d", log_prints=True)
def maintain_warehouse(retention_days: float = DEFAULT_RETENTION_DAYS,
                       data_dir: str | None = None) -> dict:
    """Compact the lake and end time travel older than `retention_days`."""
    done = compact(resolve(data_dir).warehouse(), retention_days, now=utc_now())
    get_run_logger().info(
        "files %d -> %d (%d bytes); %d snapshots expired, %d old and %d orphaned files deleted",
        done.files_before, done.files_after, done.bytes_after, done.snapshots_expired,
        done.files_deleted, done.orphans_deleted)
    return dataclasses.asdict(done)
