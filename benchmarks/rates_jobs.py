"""sco-etl's side of sections 1 and 2: a backfill and daily catch-ups, as the flow runs them.

These run inside a worker process (`benchmarks.worker`) whose PREFECT_API_URL points at the
already-running benchmark server, so Prefect's start-up is not in their figures.
"""

from __future__ import annotations

import datetime as dt
import resource
import shutil
import time
from pathlib import Path

from benchmarks.prefect_api import busy_seconds, by_task, task_counts, task_runs


def ingest(data_dir: str, cbr_url: str, start: str | None = None, end: str | None = None,
           currencies: list[str] | None = None) -> dict:
    """One `ingest_rates` flow run, timed; with what the API recorded about it."""
    from sco_etl.flows.rates import ingest_rates

    cpu = _cpu_seconds()
    started = time.perf_counter()
    state = ingest_rates(
        start=dt.date.fromisoformat(start) if start else None,
        end=dt.date.fromisoformat(end) if end else None,
        currencies=currencies, data_dir=data_dir, cbr_url=cbr_url, return_state=True,
    )
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    result = state.result()
    runs = task_runs(state.state_details.flow_run_id)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "state": state.type.value,
        "requests": result.requests,
        "rows_written": result.inserted + result.updated,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
        "partitions": result.partitions,
        "task_runs": len(runs),
        "task_seconds": by_task(runs),
        "task_counts": task_counts(runs),
        "tasks_total_seconds": busy_seconds(runs),
    }


def backfill(params: dict) -> dict:
    """Job `backfill`: import the flow, then one full-history backfill."""
    started = time.perf_counter()
    import sco_etl.flows.rates  # noqa: F401  (the import is part of the fixed cost, timed apart)

    imported = time.perf_counter() - started
    result = ingest(params["data_dir"], params["cbr_url"], params.get("start"),
                    params.get("end"), params.get("currencies"))
    result["import_seconds"] = imported
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def catchup_setup(params: dict) -> dict:
    """Job `catchup_setup`: backfill each store (years of history ending at `end`)."""
    import sco_etl.flows.rates  # noqa: F401

    end = dt.date.fromisoformat(params["end"])
    stores = {}
    for years in params["years"]:
        start = max(_years_before(end, years), dt.date.fromisoformat(params["first_date"]))
        path = Path(params["root"]) / f"store-{years}y"
        result = ingest(str(path), params["cbr_url"], str(start), str(end),
                        params.get("currencies"))
        stores[str(years)] = {"path": str(path), "start": str(start), "end": str(end),
                              "rows": result["rows_written"],
                              "parquet_bytes": _parquet_bytes(path),
                              "rates_partitions": len(list(
                                  (path / "lake" / "main" / "rates").glob("year=*")))}
    return {"stores": stores}


def catchup(params: dict) -> dict:
    """Job `catchup`: from a copy of each store, one catch-up run (no dates), `runs` times."""
    import sco_etl.flows.rates  # noqa: F401

    figures = {}
    for years, store in params["stores"].items():
        runs = []
        for n in range(params["runs"]):
            data = Path(params["root"]) / f"catchup-{years}y-{n}"
            shutil.rmtree(data, ignore_errors=True)
            shutil.copytree(store["path"], data)  # copy2 keeps the modification times
            before = _files(data)
            run = ingest(str(data), params["cbr_url"], currencies=params.get("currencies"))
            run.update(_changes(before, _files(data)))
            runs.append(run)
            shutil.rmtree(data, ignore_errors=True)
        figures[years] = {"runs": runs}
    return figures


def _changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict:
    """Files created or rewritten by a run, and their bytes (the catalog counted apart)."""
    changed = sorted(p for p, stat in after.items() if before.get(p, (None,))[0] != stat[0])
    catalog = [p for p in changed if ".sqlite" in p]
    parquet = [p for p in changed if p.endswith(".parquet")]
    return {
        "files_changed": parquet,
        "bytes_changed": sum(after[p][1] for p in parquet),
        "catalog_bytes": sum(after[p][1] for p in catalog),
        "rates_partitions_rewritten": sorted({str(Path(p).parent) for p in parquet
                                              if p.startswith("lake/main/rates/")}),
    }


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}


def _parquet_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.parquet"))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years) + dt.timedelta(days=1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28) + dt.timedelta(days=1)


def _cpu_seconds() -> float:
    """CPU time of this process, every thread: steadier than wall time on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
