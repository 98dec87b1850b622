"""Concurrency: two writers at once are serialised or refused clearly; readers never wait.

The writer lock is an `flock` on `<data dir>/.writer.lock`, taken only for the commit; queries
(`sco-etl query`, `run_query`, any read-only DuckDB connection) never take it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from typer.testing import CliRunner
from warehouse.lock import WriterLock

from flows.cli import app
from schemas import LOADS, RATES
from schemas.errors import TransientSourceError, WarehouseBusyError
from tests.fakes.cbr_server import status
from tests.fakes.crash import subprocess_env
from tests.fakes.reliability import (
    REPO,
    data_files,
    duplicate_keys,
    leftovers,
    lock_is_free,
    plain_reader,
    snapshot,
)
from warehouse import Warehouse, run_query

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()

FIRST = {"start": "2024-01-01", "end": "2025-04-03", "currencies": ["CNY", "KZT"]}
SECOND = {"start": "2023-06-01", "end": "2025-04-03", "currencies": ["INR", "UZS"]}


def _dates(kwargs: dict) -> dict:
    return {k: (dt.date.fromisoformat(v) if k in ("start", "end") else v)
            for k, v in kwargs.items()}


def test_two_ingestions_started_at_once_are_serialised(cbr_env, warehouse, tmp_path, pycache,
                                                       monkeypatch, reliability):
    from flows.rates import ingest_rates

    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "120")

    # What the two runs give one after the other, for comparison.
    reference = Warehouse(tmp_path / "reference")
    for plan in (FIRST, SECOND):
        ingest_rates(**_dates(plan), data_dir=str(reference.root), cbr_url=cbr_env.url)
    cbr_env.requests.clear()
    # Hold the lock until both runs have fetched everything: their commits then meet at it.
    held = WriterLock(warehouse.root, timeout=5)
    held.acquire()
    outcome: dict = {}

    def in_process():
        try:
            outcome["thread"] = ingest_rates(**_dates(FIRST), data_dir=str(warehouse.root),
                                             cbr_url=cbr_env.url)
        except Exception as e:  # reported by the assertion below
            outcome["thread"] = e

    env = subprocess_env(pycache, SCO_ETL_LOCK_TIMEOUT="120")
    thread = threading.Thread(target=in_process)
    thread.start()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.crash_run", json.dumps({
            "flow": "rates", "kwargs": {**SECOND, "data_dir": str(warehouse.root),
                                         "cbr_url": cbr_env.url}})],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Each run asks the directory twice and one XML_dynamic per currency ID.
        deadline = time.monotonic() + 300
        while cbr_env.total_requests < 8 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert cbr_env.total_requests == 8
        time.sleep(1.0)  # parse and validate: both are now at the lock
        assert warehouse.read(LOADS).num_rows == 0
        released = time.time()
    finally:
        held.release()
    _, stderr = child.communicate(timeout=300)
    thread.join(timeout=300)
    assert child.returncode == 0, stderr[-3000:]
    assert isinstance(outcome["thread"], dict), outcome["thread"]
    loads = warehouse.read(LOADS).to_pylist()
    assert [r["status"] for r in loads] == ["completed", "completed"]
    assert all(r["finished_at"].timestamp() >= released for r in loads)
    assert snapshot(warehouse) == snapshot(reference)
    assert duplicate_keys(warehouse) == {}
    assert leftovers(warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(warehouse.root)
    reliability.record(
        "concurrency", "two ingestions at once (a thread and a process)",
        "both runs fetch, then meet at the writer lock",
        "serialised by the lock: both completed; warehouse equals the two runs one after the "
        "other; no duplicate key", rows_lost=0, partial_files=0)


def test_a_second_writer_fails_clearly_naming_the_holder(cbr_env, warehouse, monkeypatch,
                                                         reliability):
    from flows.rates import ingest_rates

    ingest_rates(**_dates(FIRST))
    before = data_files(warehouse)
    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "1")
    with WriterLock(warehouse.root, timeout=5), pytest.raises(WarehouseBusyError) as busy:
        ingest_rates(**_dates(SECOND))
    message = str(busy.value)
    assert f"another sco-etl run (pid {os.getpid()}, since " in message
    assert "SCO_ETL_LOCK_TIMEOUT" in message
    assert data_files(warehouse) == before
    assert leftovers(warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    reliability.record(
        "concurrency", "a second writer while the lock is held", "lock held by another process",
        f"run failed: WarehouseBusyError '{message.split(';')[0]}…'; nothing written",
        rows_lost=0, partial_files=0)


def test_a_source_failure_is_not_masked_by_a_busy_lock(cbr_env, warehouse, monkeypatch,
                                                       reliability):
    from flows.rates import ingest_rates

    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "1")
    cbr_env.faults.extend([status(503)] * 20)
    with WriterLock(warehouse.root, timeout=5), pytest.raises(TransientSourceError,
                                                              match="HTTP 503"):
        ingest_rates(**_dates(FIRST))
    reliability.record(
        "concurrency", "a source failure while another writer holds the lock",
        "503 storm, and the ledger cannot be written",
        "the user sees the source's error (HTTP 503), not the ledger's busy lock",
        rows_lost=0, partial_files=0)


def test_queries_keep_working_during_a_long_write(cbr_env, warehouse, tmp_path, monkeypatch,
                                                  reliability):
    from flows.rates import ingest_rates

    ingest_rates(start=dt.date(2025, 3, 28), end=dt.date(2025, 4, 3), currencies=["CNY"])
    held_open = plain_reader(warehouse)
    before = held_open.execute("SELECT count(*) FROM rates").fetchone()[0]
    cbr_env.latency = 0.2
    done = threading.Event()
    outcome: dict = {}

    def ingest():
        try:
            outcome["summary"] = ingest_rates(
                start=dt.date(2005, 1, 1), currencies=["CNY", "KZT", "INR", "UZS", "BYN", "TRY"])
        except Exception as e:
            outcome["summary"] = e
        finally:
            done.set()

    worker = threading.Thread(target=ingest)
    worker.start()
    monkeypatch.chdir(tmp_path)
    counts, failures, rounds = [], [], 0
    try:
        while not done.is_set() or rounds < 3:
            rounds += 1
            result = runner.invoke(app, ["query", "SELECT count(*) AS n FROM rates",
                                         "--format", "csv"])
            if result.exit_code:
                failures.append(result.output)
            else:
                counts.append(int(result.output.split()[-1]))
            connection = plain_reader(warehouse)
            counts.append(connection.execute("SELECT count(*) FROM rates").fetchone()[0])
            connection.close()
            counts.append(held_open.execute("SELECT count(*) FROM rates").fetchone()[0])
            time.sleep(0.05)  # readers do not starve the writer of the CPU
    finally:
        cbr_env.latency = 0.0
        worker.join()
        held_open.close()
    assert isinstance(outcome["summary"], dict), outcome["summary"]
    assert failures == []
    assert len(counts) >= 9 and min(counts) >= before
    final = run_query(warehouse, "SELECT count(*) AS n FROM rates").column("n")[0].as_py()
    assert final == warehouse.read(RATES).num_rows > before
    reliability.record(
        "concurrency", "queries during a twenty-year backfill",
        f"{rounds} rounds of `sco-etl query`, a fresh read-only DuckDB connection, and one "
        "opened before the write",
        f"all {len(counts)} queries answered, none waited for the lock, none failed",
        rows_lost=0, partial_files=0)


def test_queries_work_while_another_process_holds_the_lock(cbr_env, warehouse, reliability):
    from flows.rates import ingest_rates

    ingest_rates(start=dt.date(2025, 3, 28), end=dt.date(2025, 4, 3), currencies=["CNY"])
    with WriterLock(warehouse.root, timeout=5):
        started = time.monotonic()
        result = runner.invoke(app, ["query", "SELECT count(*) AS n FROM rates", "-f", "csv"])
        elapsed = time.monotonic() - started
    assert result.exit_code == 0 and result.output.split()[-1] != "0"
    assert elapsed < 5
    reliability.record("concurrency", "a query while the writer lock is held",
                       "lock held by another writer",
                       f"`sco-etl query` answered in {elapsed:.1f} s without the lock")
