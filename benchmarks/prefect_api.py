"""What the Prefect API recorded about a flow run: its task runs and their durations."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
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
            "start": run.start_time.isoformat() if run.start_time else None,
            "end": run.end_time.isoformat() if run.end_time else None}


def by_task(runs: list[dict]) -> dict[str, float]:
    """Wall seconds per task name: from its first run's start to its last run's end, so the
    parallel fetch shares count once, as the time they held the run up."""
    spans: dict[str, list[dt.datetime]] = {}
    for run in runs:
        if run["start"] and run["end"]:
            start, end = dt.datetime.fromisoformat(run["start"]), dt.datetime.fromisoformat(
                run["end"])
            span = spans.setdefault(run["name"], [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
    return {name: (end - start).total_seconds() for name, (start, end) in spans.items()}


def task_counts(runs: list[dict]) -> dict[str, int]:
    """Task runs per task name."""
    return dict(Counter(run["name"] for run in runs))


def busy_seconds(runs: list[dict]) -> float:
    """Wall seconds during which at least one task ran (overlapping runs counted once)."""
    intervals = sorted((dt.datetime.fromisoformat(run["start"]),
                        dt.datetime.fromisoformat(run["end"]))
                       for run in runs if run["start"] and run["end"])
    total, reach = 0.0, None
    for start, end in intervals:
        if reach is None or start > reach:
            total += (end - start).total_seconds()
            reach = end
        elif end > reach:
            total += (end - reach).total_seconds()
            reach = end
    return total
