"""Run one real ingestion flow in this process and SIGKILL it at a chosen point (crash tests).

    SCO_ETL_TEST_KILL_AT=replace:3 python -m tests.fakes.crash_run '{"flow": "rates", ...}'

The hooks are installed here, in a test-only entry point, by wrapping the functions the
warehouse calls; production code has no test hook. The kill is `os.kill(os.getpid(), SIGKILL)`:
no `finally`, no `atexit`, no flush — what a power cut or the OOM killer does to the process.
If the point is never reached the flow finishes and the process exits 0 (the test fails, so a
kill point that silently stopped being reached cannot pass unnoticed).

Kill points (`name:N`, N counted from 1 within the process):
    http:N          at the N-th HTTP request, before any write
    begin:N         right after the N-th write transaction began, before anything is written
    upsert:N        after the N-th upsert: its Parquet files are on disk, not committed
    commit:N        the N-th transaction complete, its commit counter bumped, before COMMIT
    committed:N     after the N-th commit, the flow not finished
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading

KILL_ENV = "SCO_ETL_TEST_KILL_AT"
BARRIER_ENV = "SCO_ETL_TEST_BARRIER"
"""`DIR:N`: after its first rates upsert, inside its transaction, each process marks itself in
DIR and waits until N processes have: their commits then overlap (scale-out tests)."""


def kill() -> None:
    sys.stderr.write(f"crash_run: SIGKILL at {os.environ.get(KILL_ENV)}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class Countdown:
    """Counts calls of one kill point; says when the N-th arrives."""

    def __init__(self, spec: str) -> None:
        self.point, _, n = spec.partition(":")
        self.n = int(n or 1)
        self.count = 0
        self._lock = threading.Lock()

    def hit(self, point: str) -> bool:
        if point != self.point:
            return False
        with self._lock:
            self.count += 1
            return self.count == self.n


def install(spec: str) -> Countdown:
    """Wrap the warehouse's steps so that the chosen one kills the process."""
    from contextlib import contextmanager

    from sco_etl.tasks import http
    from sco_etl.warehouse import merge, store

    countdown = Countdown(spec)

    def killing_after(point: str, function):
        def wrapper(*args, **kwargs):
            result = function(*args, **kwargs)
            if countdown.hit(point):
                kill()
            return result
        return wrapper

    real_get_once = http.HttpClient._get_once

    def get_once(self, *args, **kwargs):
        if countdown.hit("http"):
            kill()
        return real_get_once(self, *args, **kwargs)

    real_write = store.Warehouse.write

    @contextmanager
    def write(self, message=None):
        with real_write(self, message) as writer:
            if countdown.hit("begin"):
                kill()
            yield writer
        if countdown.hit("committed"):
            kill()

    http.HttpClient._get_once = get_once
    merge.upsert = killing_after("upsert", merge.upsert)
    store.Writer.finish = killing_after("commit", store.Writer.finish)
    store.Warehouse.write = write
    return countdown


def install_barrier(spec: str) -> None:
    """Hold this process inside its first rates transaction until N processes are."""
    import time
    from pathlib import Path

    from sco_etl.warehouse import merge

    folder, _, parties = spec.rpartition(":")
    real_upsert = merge.upsert
    waited = []

    def upsert(connection, table, rows):
        diff = real_upsert(connection, table, rows)
        if table.name == "rates" and not waited:
            waited.append(True)
            (Path(folder) / str(os.getpid())).touch()
            deadline = time.monotonic() + 120
            while len(list(Path(folder).iterdir())) < int(parties):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"barrier {spec}: the other writers never arrived")
                time.sleep(0.01)
        return diff

    merge.upsert = upsert


def run(spec: dict) -> dict:
    """Run the flow named in `spec` with its keyword arguments (dates as ISO strings)."""
    kwargs = dict(spec["kwargs"])
    if spec["flow"] == "rates":
        from sco_etl.flows.rates import ingest_rates

        for name in ("start", "end"):
            if kwargs.get(name):
                kwargs[name] = dt.date.fromisoformat(kwargs[name])
        return ingest_rates(**kwargs)
    if spec["flow"] == "news":
        from sco_etl.flows.news import ingest_news

        return ingest_news(**kwargs)
    raise ValueError(f"unknown flow {spec['flow']!r}")


def main() -> None:
    spec = json.loads(sys.argv[1])
    if os.environ.get(KILL_ENV):
        install(os.environ[KILL_ENV])
    if os.environ.get(BARRIER_ENV):
        install_barrier(os.environ[BARRIER_ENV])
    result = run(spec)
    # rates returns its RatesResult, news a dict
    inserted = result["inserted"] if isinstance(result, dict) else result.inserted
    sys.stdout.write(json.dumps({"completed": True, "inserted": inserted}) + "\n")


if __name__ == "__main__":
    main()
