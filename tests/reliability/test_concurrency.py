"""Concurrency: two writers at once both end well or the second fails clearly; readers never wait.

Writers are optimistic: each run's changes are one DuckLake transaction, and every
data-changing transaction bumps one commit counter, so of two that overlap the second to
commit meets a conflict and is retried from a fresh snapshot (up to SCO_ETL_LOCK_TIMEOUT).
Readers read a committed snapshot and take no lock. Every test below makes the overlap
happen with events and barriers, never with sleeps.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from sco_etl.schemas import LOADS, RATES
from sco_etl.schemas.errors import TransientSourceError, WarehouseBusyError
from sco_etl.tasks.cbr.load import RatesResult
from sco_etl.warehouse import Warehouse, merge
from tests.fakes.cbr_server import status
from tests.fakes.reliability import (
    REPO,
    duplicate_keys,
    leftovers,
    lock_is_free,
    plain_reader,
    snapshot,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()

FIRST = {"start": "2024-01-01", "end": "2025-04-03", "currencies": ["CNY", "KZT"]}
SECOND = {"start": "2023-06-01", "end": "2025-04-03", "currencies": ["INR", "UZS"]}
WAIT = 120  # seconds any event may take before the test fails instead of hanging


def _dates(kwargs: dict) -> dict:
    return {k: (dt.date.fromisoformat(v) if k in ("start", "end") else v)
            for k, v in kwargs.items()}


class RatesUpserts:
    """Wraps `merge.upsert` of the rates table: counts calls, and lets a test act while a
    transaction holds its rates upsert, not yet committed (once per thread, or every time)."""

    def __init__(self, monkeypatch, act=None, every_time: bool = False) -> None:
        self.calls = 0
        self.act = act
        self.every_time = every_time
        self._seen: set[int] = set()
        self._lock = threading.Lock()
        self._upsert = merge.upsert
        monkeypatch.setattr(merge, "upsert", self)

    def __call__(self, connection, table, rows):
        diff = self._upsert(connection, table, rows)
        if table.name == RATES.name:
            with self._lock:
                self.calls += 1
                first = threading.get_ident() not in self._seen
                self._seen.add(threading.get_ident())
            if self.act is not None and (first or self.every_time):
                self.act()
        return diff


def test_two_ingestions_started_at_once_are_serialised(cbr_env, warehouse, tmp_path,
                                                       monkeypatch, reliability):
    from sco_etl.flows.rates import ingest_rates

    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "120")
    # What the two runs give one after the other, for comparison.
    reference = Warehouse(tmp_path / "reference")
    for plan in (FIRST, SECOND):
        ingest_rates(**_dates(plan), data_dir=str(reference.root), cbr_url=cbr_env.url)
    # Both runs wait, inside their transactions, until both have written their rates.
    both_written = threading.Barrier(2, timeout=WAIT)
    upserts = RatesUpserts(monkeypatch, both_written.wait)
    outcome: dict = {}

    def run(name: str, plan: dict) -> None:
        try:
            outcome[name] = ingest_rates(**_dates(plan), data_dir=str(warehouse.root),
                                         cbr_url=cbr_env.url)
        except Exception as e:  # reported by the assertion below
            outcome[name] = e

    threads = [threading.Thread(target=run, args=(name, plan))
               for name, plan in (("first", FIRST), ("second", SECOND))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert all(isinstance(outcome[name], RatesResult) for name in ("first", "second")), outcome
    assert upserts.calls == 3, "the run that committed second was retried once"
    loads = warehouse.read(LOADS).to_pylist()
    assert [r["status"] for r in loads] == ["completed", "completed"]
    assert snapshot(warehouse) == snapshot(reference)
    assert duplicate_keys(warehouse) == {}
    assert leftovers(warehouse.root)["tmp"] == []
    assert lock_is_free(warehouse.root)
    reliability.record(
        "concurrency", "two ingestions at once",
        "both runs inside their transactions, rates written, neither committed",
        "the first commits; the second meets a conflict, is retried from the new snapshot "
        "and completes: warehouse equals the two runs one after the other; no duplicate key",
        rows_lost=0, partial_files=0)


def test_a_second_writer_fails_clearly_when_others_keep_winning(cbr_env, warehouse,
                                                                monkeypatch, reliability):
    from sco_etl.flows.rates import ingest_rates

    ingest_rates(**_dates(FIRST))
    before = snapshot(warehouse, [RATES])
    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "1")

    def another_writer_commits() -> None:
        # A thread of its own: another run that commits while ours is inside its transaction.
        def commit() -> None:
            with Warehouse(warehouse.root).write() as writer:
                writer.connection.execute("UPDATE lake_meta SET commits = commits + 1")
        thread = threading.Thread(target=commit)
        thread.start()
        thread.join(WAIT)

    upserts = RatesUpserts(monkeypatch, another_writer_commits, every_time=True)
    with pytest.raises(WarehouseBusyError) as busy:
        ingest_rates(**_dates(SECOND))
    message = str(busy.value)
    assert message.startswith("other sco-etl runs kept writing to the warehouse for 1 s")
    assert "Nothing of this run was written" in message and "SCO_ETL_LOCK_TIMEOUT" in message
    assert upserts.calls >= 2
    assert snapshot(warehouse, [RATES]) == before
    assert [r["status"] for r in warehouse.read(LOADS).to_pylist()] == ["completed", "failed"]
    reliability.record(
        "concurrency", "a writer that keeps losing to other writers",
        "another run commits inside every attempt of ours",
        f"run failed after {upserts.calls} attempts: WarehouseBusyError "
        f"'{message.split('(')[0].strip()}…'; its rates not written, its failure recorded",
        rows_lost=0, partial_files=0)


def test_a_source_failure_is_not_masked_by_a_busy_warehouse(cbr_env, warehouse, monkeypatch,
                                                            reliability):
    from sco_etl.flows.rates import ingest_rates

    def busy(self, work, message=None):
        raise WarehouseBusyError("other sco-etl runs kept writing to the warehouse")

    cbr_env.faults.extend([status(503)] * 20)
    monkeypatch.setattr(Warehouse, "transaction", busy)
    with pytest.raises(TransientSourceError, match="HTTP 503"):
        ingest_rates(**_dates(FIRST))
    reliability.record(
        "concurrency", "a source failure while other writers hold the warehouse",
        "503 storm, and the ledger cannot be written",
        "the user sees the source's error (HTTP 503), not the ledger's busy warehouse",
        rows_lost=0, partial_files=0)


def test_queries_keep_working_during_a_long_write(cbr_env, warehouse, tmp_path, monkeypatch,
                                                  reliability):
    from sco_etl.flows.rates import ingest_rates

    ingest_rates(start=dt.date(2025, 3, 28), end=dt.date(2025, 4, 3), currencies=["CNY"])
    held_open = plain_reader(warehouse)
    before = held_open.execute("SELECT count(*) FROM rates").fetchone()[0]
    in_transaction, readers_done = threading.Event(), threading.Event()

    def hold() -> None:
        in_transaction.set()
        assert readers_done.wait(WAIT)

    RatesUpserts(monkeypatch, hold)
    outcome: dict = {}

    def ingest():
        try:
            outcome["summary"] = ingest_rates(
                start=dt.date(2005, 1, 1), currencies=["CNY", "KZT", "INR", "UZS", "BYN", "TRY"])
        except Exception as e:
            outcome["summary"] = e

    worker = threading.Thread(target=ingest)
    worker.start()
    monkeypatch.chdir(tmp_path)
    counts, failures = [], []
    try:
        assert in_transaction.wait(WAIT)
        for _ in range(3):
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
    finally:
        readers_done.set()
        worker.join()
    after = held_open.execute("SELECT count(*) FROM rates").fetchone()[0]
    held_open.close()
    assert isinstance(outcome["summary"], RatesResult), outcome["summary"]
    assert failures == []
    assert counts == [before] * 9  # the last committed snapshot, while the write is open
    assert after == warehouse.read(RATES).num_rows > before  # the new one once committed
    reliability.record(
        "concurrency", "queries during a twenty-year backfill",
        "3 rounds of `sco-etl query`, a fresh plain DuckDB connection, and one opened before "
        "the write, all while the writer holds its open transaction",
        f"all {len(counts)} queries answered from the last committed snapshot, none waited; "
        "the connection opened before sees the new snapshot after the commit",
        rows_lost=0, partial_files=0)


WRITER_PROCESS = textwrap.dedent("""
    import sys, time, datetime as dt
    from pathlib import Path
    from decimal import Decimal
    import pyarrow as pa
    from sco_etl.schemas import RATES
    from sco_etl.warehouse import Warehouse

    root, ready, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    row = {"rate_date": dt.date(2030, 1, 1), "cbr_id": "R01375", "char_code": "CNY",
           "num_code": "156", "nominal": 1, "value": Decimal("1"), "unit_rate": Decimal("1"),
           "frequency": "daily", "loaded_at": dt.datetime.now(dt.UTC), "run_id": "other"}
    with Warehouse(root).write() as writer:
        writer.upsert(RATES, pa.Table.from_pylist([row], schema=RATES.arrow_schema))
        ready.touch()
        deadline = time.monotonic() + 120
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
""")


def test_queries_work_while_another_process_is_mid_write(cbr_env, warehouse, tmp_path,
                                                        reliability):
    from sco_etl.flows.rates import ingest_rates

    ingest_rates(start=dt.date(2025, 3, 28), end=dt.date(2025, 4, 3), currencies=["CNY"])
    before = warehouse.read(RATES).num_rows
    ready, go = tmp_path / "ready", tmp_path / "go"
    writer = subprocess.Popen([sys.executable, "-c", WRITER_PROCESS, str(warehouse.root),
                               str(ready), str(go)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + WAIT
        while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # a signal from the other process, not a guess at its timing
        assert ready.exists(), writer.stderr.read() if writer.poll() is not None else "no signal"
        result = runner.invoke(app, ["query", "SELECT count(*) AS n FROM rates", "-f", "csv"])
    finally:
        go.touch()
        writer.wait(WAIT)
    assert writer.returncode == 0, writer.stderr.read()[-3000:]
    assert result.exit_code == 0 and int(result.output.split()[-1]) == before
    assert warehouse.read(RATES).num_rows == before + 1
    reliability.record("concurrency", "a query while another process is mid-write",
                       "another process holds an open write transaction",
                       "`sco-etl query` answered from the last committed snapshot at once")
