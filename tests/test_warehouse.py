"""The warehouse verbs on a temporary directory: idempotence, revisions, atomicity, locking."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from schemas import QUARANTINE, RATES
from schemas.errors import ReadOnlyQueryError, WarehouseBusyError
from warehouse import Warehouse, run_query
from warehouse.journal import JOURNAL_DIR, Transaction, recover
from warehouse.lock import WriterLock

NOW = dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC)


def rate(day: dt.date, cbr_id: str = "R01375", value: str = "11.7136", nominal: int = 1,
         run_id: str = "run-1") -> dict:
    code = {"R01375": "CNY", "R01335": "KZT"}[cbr_id]
    return {"rate_date": day, "cbr_id": cbr_id, "char_code": code, "num_code": "156",
            "nominal": nominal, "value": Decimal(value),
            "unit_rate": Decimal(value) / nominal, "frequency": "daily",
            "loaded_at": NOW, "run_id": run_id}


def rows(*records: dict) -> pa.Table:
    return pa.Table.from_pylist(list(records), schema=RATES.arrow_schema)


def files(warehouse: Warehouse) -> dict[str, bytes]:
    return {str(p.relative_to(warehouse.root)): p.read_bytes()
            for p in sorted(warehouse.root.rglob("*.parquet"))}


def test_upsert_twice_changes_nothing(warehouse):
    batch = rows(rate(dt.date(2024, 12, 28)), rate(dt.date(2025, 4, 1)))
    with warehouse.write() as writer:
        first = writer.upsert(RATES, batch)
    before = files(warehouse)
    with warehouse.write() as writer:
        second = writer.upsert(RATES, rows(*(r | {"run_id": "run-2"} for r in batch.to_pylist())))
    assert (first.inserted, first.partitions) == (2, ["rates/year=2024", "rates/year=2025"])
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 2)
    assert second.partitions == []
    assert files(warehouse) == before
    assert warehouse.read(RATES).column("run_id").to_pylist() == ["run-1", "run-1"]


def test_changed_value_replaces_row_and_returns_old_version(warehouse):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1))))
    with warehouse.write() as writer:
        result = writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1), value="11.8000",
                                                run_id="run-2")))
    assert (result.inserted, result.updated) == (0, 1)
    assert result.replaced[0].column("value").to_pylist() == [Decimal("11.7136")]
    stored = warehouse.read(RATES).to_pylist()
    assert [(r["value"], r["run_id"]) for r in stored] == [(Decimal("11.8000"), "run-2")]


def test_only_changed_partitions_are_rewritten(warehouse):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2024, 5, 1)), rate(dt.date(2025, 4, 1))))
    old = (warehouse.root / "rates/year=2024/data.parquet").stat().st_mtime_ns
    with warehouse.write() as writer:
        result = writer.upsert(RATES, rows(rate(dt.date(2024, 5, 1)), rate(dt.date(2025, 4, 2))))
    assert result.partitions == ["rates/year=2025"]
    assert (warehouse.root / "rates/year=2024/data.parquet").stat().st_mtime_ns == old


def test_failure_inside_a_write_leaves_the_warehouse_as_it_was(warehouse):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1))))
    before = files(warehouse)
    with pytest.raises(RuntimeError), warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1), value="99.0000"),
                                  rate(dt.date(2023, 1, 10))))
        raise RuntimeError("crash before commit")
    assert files(warehouse) == before
    assert not list(warehouse.root.rglob("*.tmp"))


def test_interrupted_commit_is_completed_by_the_next_writer(warehouse):
    """A journal left by a process killed between renames is replayed."""
    warehouse.root.mkdir(parents=True)
    transaction = Transaction(warehouse.root)
    final = warehouse.root / "rates/year=2025/data.parquet"
    transaction.stage_parquet(final, rows(rate(dt.date(2025, 4, 1))))
    journal = warehouse.root / JOURNAL_DIR / f"{transaction.id}.json"
    journal.parent.mkdir()
    tmp = next(final.parent.glob("*.tmp"))
    journal.write_text(f'[["{tmp.relative_to(warehouse.root)}", "rates/year=2025/data.parquet"]]')
    stray = warehouse.root / "rates/year=2024/.data.parquet.dead.tmp"
    stray.parent.mkdir()
    stray.write_bytes(b"half a file")
    done = recover(warehouse.root)
    assert len(done) == 2
    assert warehouse.read(RATES).num_rows == 1
    assert not journal.exists() and not stray.exists()


def _hold_lock(root, ready, seconds):
    with WriterLock(root, timeout=1):
        ready.set()
        time.sleep(seconds)


def test_second_writer_waits_then_fails_clearly(warehouse):
    warehouse.root.mkdir(parents=True)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(warehouse.root, ready, 3))
    holder.start()
    ready.wait(10)
    busy = Warehouse(warehouse.root, lock_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(WarehouseBusyError, match=f"pid {holder.pid}"), busy.write():
        pass
    assert time.monotonic() - started >= 0.5
    holder.join()
    with Warehouse(warehouse.root, lock_timeout=0.5).write():
        pass  # released when the holder ended


def test_lock_released_when_holder_is_killed(warehouse):
    warehouse.root.mkdir(parents=True)
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(warehouse.root, ready, 60))
    holder.start()
    ready.wait(10)
    os.kill(holder.pid, 9)
    holder.join()
    with Warehouse(warehouse.root, lock_timeout=1).write():
        pass


def test_quarantine_append_is_idempotent(warehouse):
    record = {"dataset": "rates", "reason": "value failed positive", "record": "{}",
              "run_id": "r", "quarantined_at": NOW}
    table = pa.Table.from_pylist([record], schema=QUARANTINE.arrow_schema)
    for _ in range(2):
        with warehouse.write() as writer:
            writer.append(QUARANTINE, table)
    assert warehouse.read(QUARANTINE).num_rows == 1


def test_catalog_opens_read_only_from_any_directory(warehouse, tmp_path, monkeypatch):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1)), rate(dt.date(2025, 4, 1), "R01335",
                                                                  "16.9831", 100)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    connection = duckdb.connect(str(warehouse.catalog_path), read_only=True)
    views = {r[0] for r in connection.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert {"rates", "currencies", "sco_countries", "quarantine", "loads", "currency_board",
            "rates_daily", "cross_rates"} <= views
    assert connection.execute("SELECT count(*) FROM rates").fetchone() == (2,)
    assert connection.execute("SELECT count(*) FROM sco_countries").fetchone()[0] > 40
    connection.close()


def test_cross_rate_through_the_ruble(warehouse):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1)), rate(dt.date(2025, 4, 1), "R01335",
                                                                  "16.9831", 100)))
    result = run_query(warehouse, "SELECT rate FROM cross_rate('CNY', 'KZT') "
                                  "WHERE as_of_date = DATE '2025-04-01'")
    # 11.7136 RUB per yuan / 0.169831 RUB per tenge
    assert result.column("rate").to_pylist() == [pytest.approx(11.7136 / 0.169831, rel=1e-12)]


@pytest.mark.parametrize("sql", [
    "DELETE FROM rates", "COPY rates TO '/tmp/out.csv'", "CREATE TABLE t AS SELECT 1",
    "ATTACH '/tmp/other.duckdb'", "SET enable_external_access = true", "INSTALL httpfs",
    "SELECT 1; DROP VIEW rates",
])
def test_query_refuses_anything_that_writes(warehouse, sql):
    with pytest.raises(ReadOnlyQueryError):
        run_query(warehouse, sql)


def test_query_cannot_read_outside_the_data_directory(warehouse):
    with pytest.raises(Exception, match=r"disabled|Permission"):
        run_query(warehouse, "SELECT * FROM read_csv('/etc/passwd')")
