"""What the Prefect API recorded about a flow run: its task runs and their durations."""

from __future__ import annotations

import time
from uuid import UUID


def task_runs(flow_run_id: UUID | str, settle_seconds: float = 15.0) -> list[dict]:
    """The task runs of a flow run: name, state, seconds.

    Task run states reach the API as events, recorded asynchronously by the server, so the
    list is read until it stops changing and every run is finished.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs, previous = [], None
    deadline = time.monotonic() + settle_seconds
    with get_client(sync_client=True) as client:
        while True:
            found = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(flow_run_id))])))
            runs = [_describe(run) for run in found]
            finished = all(run["state"] in {"COMPLETED", "FAILED", "CRASHED"} for run in runs)
            signature = sorted((run["name"], run["state"]) for run in runs)
            if (finished and signature == previous) or time.monotonic() > deadline:
                return sorted(runs, key=lambda run: run["start"] or "")
            previous = signature
            time.sleep(0.5)


def _describe(run) -> dict:
    seconds = None
    if run.start_time and run.end_time:
        seconds = (run.end_time - run.start_time).total_seconds()
    return {"name": run.name.rsplit("-", 1)[0],  # `fetch-cbr-documents-a1b`
            "state": run.state.type.value if run.state else None,
            "seconds": seconds,
            "start": run.start_time.isoformat() if run.start_time else None}


def by_task(runs: list[dict]) -> dict[str, float]:
    """Seconds per task name, summed over its runs."""
    totals: dict[str, float] = {}
    for run in runs:
        totals[run["name"]] = totals.get(run["name"], 0.0) + (run["seconds"] or 0.0)
    return totals
