"""Run one real ingestion flow in this process and SIGKILL it at a chosen point (crash tests).

    SCO_ETL_TEST_KILL_AT=replace:3 python -m tests.fakes.crash_run '{"flow": "rates", ...}'

The hooks are installed here, in a test-only entry point, by wrapping the functions the
warehouse calls; production code has no test hook. The kill is `os.kill(os.getpid(), SIGKILL)`:
no `finally`, no `atexit`, no flush — what a power cut or the OOM killer does to the process.
If the point is never reached the flow finishes and the process exits 0 (the test fails, so a
kill point that silently stopped being reached cannot pass unnoticed).

Kill points (`name:N`, N counted from 1 within the process):
    http:N          at the N-th HTTP request, before any write
    lock:N          right after the N-th writer-lock acquisition, before journal recovery
    write_table:N   in the middle of the N-th Parquet write: half its bytes on disk
    staged:N        after the N-th fsync of a staged file (the journal's own is the last)
    replace:N       before the N-th rename in warehouse.journal: 1 puts the journal in place,
                    2.. rename the staged files (also counts renames replayed by recovery)
    applied:N       after the N-th commit's renames, before its journal is removed
    catalog:N       the N-th DuckDB catalog built under its temporary name, not yet renamed
    committed:N     after the N-th commit and catalog are complete, the flow not finished
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
import threading

import pyarrow as pa
import pyarrow.parquet as pq

KILL_ENV = "SCO_ETL_TEST_KILL_AT"


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


class _OsWithKill:
    """`os` for one module, with `replace` counted (a module attribute, so patchable)."""

    def __init__(self, countdown: Countdown, point: str) -> None:
        self._countdown, self._point = countdown, point

    def __getattr__(self, name: str):
        return getattr(os, name)

    def replace(self, source, target) -> None:
        if self._countdown.hit(self._point):
            kill()
        os.replace(source, target)


def install(spec: str) -> Countdown:
    """Wrap the warehouse's steps so that the chosen one kills the process."""
    from tasks import http
    from warehouse import catalog, journal, lock

    countdown = Countdown(spec)

    real_get_once = http.HttpClient._get_once

    def get_once(self, *args, **kwargs):
        if countdown.hit("http"):
            kill()
        return real_get_once(self, *args, **kwargs)

    real_acquire = lock.WriterLock.acquire

    def acquire(self):
        real_acquire(self)
        if countdown.hit("lock"):
            kill()

    real_write_table = pq.write_table

    def write_table(table, where, **options):
        if countdown.hit("write_table"):
            sink = pa.BufferOutputStream()
            real_write_table(table, sink, **options)
            data = sink.getvalue().to_pybytes()
            with open(where, "wb") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
                os.fsync(handle.fileno())
            kill()
        return real_write_table(table, where, **options)

    real_fsync_file = journal._fsync_file

    def fsync_file(path):
        real_fsync_file(path)
        if countdown.hit("staged"):
            kill()

    real_apply = journal._apply

    def apply(root, entries):
        real_apply(root, entries)
        if countdown.hit("applied"):
            kill()

    real_build = catalog.build

    def build(root):
        path = real_build(root)
        if countdown.hit("committed"):
            kill()
        return path

    http.HttpClient._get_once = get_once
    lock.WriterLock.acquire = acquire
    pq.write_table = write_table
    journal._fsync_file = fsync_file
    journal._apply = apply
    journal.os = _OsWithKill(countdown, "replace")
    catalog.os = _OsWithKill(countdown, "catalog")
    catalog.build = build
    return countdown


def run(spec: dict) -> dict:
    """Run the flow named in `spec` with its keyword arguments (dates as ISO strings)."""
    kwargs = dict(spec["kwargs"])
    if spec["flow"] == "rates":
        from flows.rates import ingest_rates

        for name in ("start", "end"):
            if kwargs.get(name):
                kwargs[name] = dt.date.fromisoformat(kwargs[name])
        return ingest_rates(**kwargs)
    if spec["flow"] == "news":
        from flows.news import ingest_news

        return ingest_news(**kwargs)
    raise ValueError(f"unknown flow {spec['flow']!r}")


def main() -> None:
    spec = json.loads(sys.argv[1])
    if os.environ.get(KILL_ENV):
        install(os.environ[KILL_ENV])
    summary = run(spec)
    sys.stdout.write(json.dumps({"completed": True, "inserted": summary.get("inserted")}) + "\n")


if __name__ == "__main__":
    main()
