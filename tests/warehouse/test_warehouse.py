"""The warehouse verbs on a temporary directory: idempotence, revisions, snapshots, writers."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sco_etl.schemas import QUARANTINE, RATES
from sco_etl.schemas.errors import NoWarehouseError, ReadOnlyQueryError, WarehouseBusyError
from sco_etl.warehouse import Warehouse, api, ddl, run_query
from sco_etl.warehouse.export import export
from sco_etl.warehouse.maintenance import lake_files, maintain
from tests.fakes.reliability import data_files, last_snapshot, plain_reader

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
    return data_files(warehouse)


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
    assert result.replaced.column("value").to_pylist() == [Decimal("11.7136")]
    stored = warehouse.read(RATES).to_pylist()
    assert [(r["value"], r["run_id"]) for r in stored] == [(Decimal("11.8000"), "run-2")]


def test_only_changed_partitions_get_files(warehouse):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2024, 5, 1)), rate(dt.date(2025, 4, 1))))
    old = {path for path in files(warehouse) if "year=2024" in path}
    with warehouse.write() as writer:
        result = writer.upsert(RATES, rows(rate(dt.date(2024, 5, 1)), rate(dt.date(2025, 4, 2))))
    assert result.partitions == ["rates/year=2025"]
    assert {path for path in files(warehouse) if "year=2024" in path} == old
    rates_files = [path for path in files(warehouse) if "/rates/" in path]
    assert len(rates_files) == 3
    assert all(path.startswith("lake/main/rates/year=20") for path in rates_files)


def test_failure_inside_a_write_leaves_the_warehouse_as_it_was(warehouse):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1))))
    before, snapshot = files(warehouse), last_snapshot(warehouse)
    with pytest.raises(RuntimeError), warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1), value="99.0000"),
                                  rate(dt.date(2023, 1, 10))))
        raise RuntimeError("crash before commit")
    assert files(warehouse) == before
    assert last_snapshot(warehouse) == snapshot


def test_one_write_is_one_snapshot_named_by_its_run(warehouse):
    warehouse.migrate()
    snapshot = last_snapshot(warehouse)
    with warehouse.write("ingest-rates run-1") as writer:
        writer.upsert(RATES, rows(rate(dt.date(2024, 5, 1)), rate(dt.date(2025, 4, 1))))
        writer.append(QUARANTINE, pa.Table.from_pylist([{
            "dataset": "rates", "reason": "r", "record": "{}", "run_id": "run-1",
            "quarantined_at": NOW}], schema=QUARANTINE.arrow_schema))
    shown = api.open(warehouse).snapshots().to_arrow_table().to_pylist()
    assert [s["snapshot_id"] for s in shown if s["snapshot_id"] > snapshot] == [snapshot + 1]
    assert shown[-1]["commit_message"] == "ingest-rates run-1"


def _write_when_both_began(warehouse: Warehouse, barrier: threading.Barrier,
                           outcome: dict, name: str, order: list) -> None:
    try:
        with warehouse.write() as writer:
            writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1), run_id=name)))
            barrier.wait(30)  # both transactions hold their upsert, neither has committed
            if name == "second":
                assert order_done.wait(30)  # commit after the first one did
        outcome[name] = "committed"
    except WarehouseBusyError as error:
        outcome[name] = str(error)
    finally:
        order.append(name)
        if name == "first":
            order_done.set()


order_done = threading.Event()


def test_two_writers_of_the_same_new_key_cannot_both_commit(warehouse):
    """Inserts never conflict in DuckLake; the commit counter every writer bumps makes them."""
    warehouse.migrate()
    order_done.clear()
    barrier, outcome, order = threading.Barrier(2), {}, []
    threads = [threading.Thread(target=_write_when_both_began,
                                args=(Warehouse(warehouse.root), barrier, outcome, name, order))
               for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcome["first"] == "committed"
    assert outcome["second"].startswith("another writer committed first")
    assert warehouse.read(RATES).column("run_id").to_pylist() == ["first"]


def test_transaction_retries_a_conflict_from_a_fresh_snapshot(warehouse):
    warehouse.migrate()
    seen, interloper_done = [], threading.Event()

    def work(writer):
        seen.append(writer.read(RATES).num_rows)
        if len(seen) == 1:  # another run commits while this one is inside its transaction
            thread = threading.Thread(target=lambda: Warehouse(warehouse.root).transaction(
                lambda other: other.upsert(RATES, rows(rate(dt.date(2025, 4, 1))))))
            thread.start()
            thread.join(30)
            interloper_done.set()
        return writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1)), rate(dt.date(2025, 4, 2))))

    result = warehouse.transaction(work)
    assert interloper_done.is_set() and seen == [0, 1]
    assert (result.inserted, result.unchanged) == (1, 1)
    assert warehouse.read(RATES).num_rows == 2


def test_board_as_known_at_an_earlier_moment(warehouse):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1))))
    known = api.open(warehouse).snapshots().to_arrow_table().to_pylist()[-1]["snapshot_time"]
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1), value="11.8000", run_id="run-2")))
    sql = "SELECT value FROM rates_daily WHERE as_of_date = DATE '2025-04-03'"
    assert run_query(warehouse, sql).column("value").to_pylist() == [Decimal("11.8000")]
    earlier = run_query(warehouse, sql, known_at=known.isoformat())
    assert earlier.column("value").to_pylist() == [Decimal("11.7136")]


def test_changes_since_a_moment_count_inserts_and_updates(warehouse):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1))))
    since = api.open(warehouse).snapshots().to_arrow_table().to_pylist()[-1]["snapshot_time"]
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1), value="11.8000"),
                                  rate(dt.date(2025, 4, 2))))
    assert api.open(warehouse).changes(since).to_arrow_table().to_pylist() == [
        {"table": "rates", "inserted": 1, "updated": 1, "deleted": 0}]


def test_maintenance_merges_small_files_and_expires_old_snapshots(warehouse):
    for day in range(1, 31):  # thirty daily runs, a file (and a delete file) each
        with warehouse.write() as writer:
            writer.upsert(RATES, rows(rate(dt.date(2025, 4, day)),
                                      rate(dt.date(2025, 4, 1), value=f"11.{day:04d}")))
    before = len(lake_files(warehouse))
    done = maintain(warehouse, retention_days=0, orphan_grace=dt.timedelta(0))
    assert before >= 60 and done.snapshots_expired >= 30
    assert warehouse.read(RATES).num_rows == 30
    with warehouse.reader() as connection:
        tables = [name for (name,) in connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'sco'").fetchall()]
        listed = {name: connection.execute(
            "SELECT count(*) FROM ducklake_list_files('sco', ?)", [name]).fetchone()[0]
            for name in tables}
    assert listed["rates"] == 1  # thirty files and their delete files merged into one
    # Nothing is left on disk but the files the current snapshot lists.
    assert len(lake_files(warehouse)) == done.files_after == sum(listed.values())


def test_export_is_plain_hive_parquet_of_one_snapshot(warehouse, tmp_path):
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2024, 5, 1)), rate(dt.date(2025, 4, 1))))
    target = tmp_path / "export"
    counts = export(warehouse, target)
    assert counts["rates"] == 2 and counts["sco_countries"] > 40
    assert sorted(p.parent.name for p in (target / "rates").rglob("*.parquet")) == [
        "year=2024", "year=2025"]
    table = pq.read_table(target / "rates", partitioning="hive")
    assert sorted(table.column("value").to_pylist()) == [Decimal("11.7136")] * 2
    export(warehouse, target)  # again, over the first export
    assert not list(tmp_path.glob(".export.*"))


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
    connection = plain_reader(warehouse)
    views = {r[0] for r in connection.execute("SHOW TABLES").fetchall()}
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
    warehouse.migrate()
    with pytest.raises(Exception, match=r"disabled|Permission"):
        run_query(warehouse, "SELECT * FROM read_csv('/etc/passwd')")


V = ddl.SCHEMA_VERSION


@pytest.mark.parametrize(("stored", "applied"), [
    (None, True),               # no lake yet: the first writer creates it
    ((V - 1, "old"), True),     # a writer of a newer release brings it forward
    ((V, "other"), True),       # same release, changed declarations (development)
    ((V, "mine"), False),       # already there
    ((V + 1, "newer"), False),  # an older release never takes columns or views away
])
def test_a_lake_schema_only_moves_forward(stored, applied):
    assert ddl.needs_schema(stored, "mine") is applied


def test_readers_create_no_warehouse(warehouse):
    with pytest.raises(NoWarehouseError, match=r"no warehouse at .*data — `sco-etl rates`"):
        run_query(warehouse, "SELECT 1")
    with pytest.raises(NoWarehouseError):
        warehouse.read(RATES)
    assert not warehouse.root.exists()


def test_an_older_lake_gains_the_columns_declared_since(warehouse):
    warehouse.migrate()
    with warehouse.reader() as connection:
        assert "frequency" in {c for (c,) in connection.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'rates'").fetchall()}
    # An older release's lake: one column fewer, an older version.
    from sco_etl.warehouse.lake import connect

    connection = connect(warehouse.lake)
    connection.execute("ALTER TABLE rates DROP COLUMN frequency")
    connection.execute("UPDATE lake_meta SET schema_version = schema_version - 1")
    connection.close()
    upgraded = Warehouse(warehouse.root)
    with upgraded.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1))))
    assert upgraded.read(RATES).column("frequency").to_pylist() == ["daily"]



def _read_at_once(reader: api.Reader, snapshot_id: int, threads: int) -> list[int]:
    """`rates`' row count as each of `threads` threads reads it from one snapshot, all
    opening the snapshot at the same moment."""
    barrier, counts = threading.Barrier(threads), []

    def read() -> None:
        barrier.wait()
        snapshot = reader.snapshot(snapshot_id)
        counts.append(snapshot.sql("SELECT count(*) FROM rates").fetchone()[0])

    started = [threading.Thread(target=read) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return counts


def test_threads_opening_one_new_snapshot_at_once_all_read_it(warehouse):
    # Two threads attaching one snapshot at once: DuckLake's failed second ATTACH removed the
    # metadata catalog the first one uses, and every later query of that snapshot failed
    # ("Catalog __ducklake_metadata_sco_s3 does not exist") — seen under load in sco-etl web.
    with warehouse.write() as writer:
        writer.upsert(RATES, rows(rate(dt.date(2025, 4, 1))))
    reader = api.Reader(warehouse)
    try:
        for stored, day in enumerate((dt.date(2025, 4, 2), dt.date(2025, 4, 3)), start=2):
            with warehouse.write() as writer:
                writer.upsert(RATES, rows(rate(day)))
            latest = reader.latest_id()
            assert _read_at_once(reader, latest, threads=8) == [stored] * 8
            assert reader.snapshot(latest).sql("SELECT count(*) FROM rates").fetchone()[0] == (
                stored)
    finally:
        reader.close()
