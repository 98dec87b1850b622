"""`ingest_rates` end to end against the fake CBR service, under a Prefect test server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sco_etl.flows.rates import ingest_rates
from sco_etl.schemas import LOADS, QUARANTINE, RATES
from sco_etl.schemas.errors import SourceFormatError, TransientSourceError
from sco_etl.tasks.cbr import calendar
from sco_etl.warehouse import merge, run_query
from tests.fakes.cbr_server import body, status
from tests.fakes.reliability import data_files, data_snapshots, last_snapshot, plain_reader

pytestmark = pytest.mark.usefixtures("prefect_harness")


def stored(warehouse, code: str) -> list[tuple]:
    table = warehouse.read(RATES).to_pylist()
    return sorted((r["rate_date"], r["cbr_id"], r["nominal"], r["value"]) for r in table
                  if r["char_code"] == code)


def test_backfill_across_byr_to_byn(cbr_env, warehouse):
    summary = ingest_rates(start=dt.date(2016, 6, 20), end=dt.date(2016, 7, 10),
                           currencies=["BYN"])
    byr, byn = stored(warehouse, "BYR"), stored(warehouse, "BYN")
    assert byr[-1][:3] == (dt.date(2016, 6, 30), "R01090", 1000)
    assert byn[0][:3] == (dt.date(2016, 7, 1), "R01090B", 1)
    assert {r[0] for r in byr}.isdisjoint({r[0] for r in byn})
    # 21 days for 2 IDs: two XML_dynamic requests plus the directory (d=0, d=1).
    assert summary.requests == 4
    assert cbr_env.requests["XML_dynamic.asp"] == 2
    board = run_query(warehouse, "SELECT char_code, nominal FROM board(DATE '2016-06-30') "
                                 "WHERE country = 'Belarus'").to_pylist()
    assert board == [{"char_code": "BYR", "nominal": 1000}]
    board = run_query(warehouse, "SELECT char_code, nominal FROM board(DATE '2016-07-04') "
                                 "WHERE country = 'Belarus'").to_pylist()
    assert board == [{"char_code": "BYN", "nominal": 1}]


def test_cny_nominal_change_keeps_unit_rate_continuous(cbr_env, warehouse):
    ingest_rates(start=dt.date(2023, 5, 25), end=dt.date(2023, 6, 6), currencies=["CNY"])
    rows = {r["rate_date"]: r for r in warehouse.read(RATES).to_pylist()}
    before, after = rows[dt.date(2023, 5, 31)], rows[dt.date(2023, 6, 1)]
    assert (before["nominal"], after["nominal"]) == (10, 1)
    assert before["unit_rate"] == before["value"] / 10
    assert after["unit_rate"] == after["value"]
    assert abs(after["unit_rate"] / before["unit_rate"] - 1) < Decimal("0.05")


def test_a_range_asks_only_its_publication_dates(cbr_env, warehouse):
    # Saturday to Monday: Saturday's rate holds all three days, set once.
    summary = ingest_rates(start=dt.date(2025, 4, 5), end=dt.date(2025, 4, 7),
                           currencies=["KZT"])
    assert cbr_env.requests["XML_daily.asp"] == 1
    assert stored(warehouse, "KZT") == [
        (dt.date(2025, 4, 5), "R01335", 100, stored(warehouse, "KZT")[0][3])]
    assert summary.inserted == 1


def test_board_shows_the_published_values_exactly(cbr_env, warehouse):
    ingest_rates(start=dt.date(2025, 3, 28), end=dt.date(2025, 4, 3))
    board = {r["char_code"]: (r["nominal"], r["value"]) for r in run_query(
        warehouse, "SELECT * FROM board(DATE '2025-04-01')").to_pylist()}
    assert board["CNY"] == (1, Decimal("11.7136"))
    assert board["KZT"] == (100, Decimal("16.9831"))
    assert board["UZS"] == (10000, Decimal("66.2085"))
    assert board["MVR"] == (None, None)  # Maldives: CBR does not quote the rufiyaa


def test_same_run_twice_leaves_identical_data(cbr_env, warehouse):
    first = ingest_rates(start=dt.date(2025, 3, 1), end=dt.date(2025, 4, 3))
    before, snapshot = data_files(warehouse), last_snapshot(warehouse)
    second = ingest_rates(start=dt.date(2025, 3, 1), end=dt.date(2025, 4, 3))
    assert first.inserted > 0
    assert (second.inserted, second.updated, second.unchanged) == (
        0, 0, first.inserted)
    assert second.partitions == []
    assert data_files(warehouse) == before
    assert data_snapshots(warehouse, snapshot) == []  # only the loads ledger gained a row
    assert [r["status"] for r in warehouse.read(LOADS).to_pylist()] == ["completed"] * 2


def test_catch_up_after_backfill_rechecks_a_week(cbr_env, warehouse, today):
    ingest_rates(start=today - dt.timedelta(days=30), end=today - dt.timedelta(days=10),
                 currencies=["CNY"])
    before = max(r[0] for r in stored(warehouse, "CNY"))
    summary = ingest_rates(currencies=["CNY"])
    latest = max(r[0] for r in stored(warehouse, "CNY"))
    # From the first publication date of the week before the latest stored date.
    start = calendar.next_publication_after(before - dt.timedelta(days=8))
    assert summary.window == (start, today + dt.timedelta(days=1))
    assert latest >= today - dt.timedelta(days=3)
    assert summary.missing_dates == []


def test_full_history_in_a_few_requests_per_currency(cbr_env, warehouse):
    summary = ingest_rates(start=dt.date(1992, 7, 1))
    ids = {r["cbr_id"] for r in warehouse.read(RATES, columns=["cbr_id"]).to_pylist()}
    assert cbr_env.requests["XML_dynamic.asp"] == len(ids) == 28
    assert summary.requests == len(ids) + 2
    assert summary.rejected == 0 and summary.missing_dates == []
    first = run_query(warehouse, "SELECT min(rate_date) AS d FROM rates WHERE char_code='TRL'")
    assert first.column("d").to_pylist() == [dt.date(1992, 7, 1)]
    pre_1998 = run_query(warehouse, "SELECT unit_rate, unit_rate_rub FROM rates_daily "
                                    "WHERE char_code = 'CNY' AND as_of_date = '1997-06-03'")
    row = pre_1998.to_pylist()[0]
    assert row["unit_rate_rub"] * 1000 == row["unit_rate"]


def test_garbage_response_leaves_warehouse_as_it_was(cbr_env, warehouse):
    ingest_rates(start=dt.date(2025, 3, 28), end=dt.date(2025, 4, 3), currencies=["CNY"])
    before = data_files(warehouse)
    cbr_env.faults.append(body(b"<html><body>Technical works</body></html>"))
    with pytest.raises(SourceFormatError, match="root element is <html>"):
        ingest_rates(start=dt.date(2025, 3, 20), end=dt.date(2025, 4, 3), currencies=["CNY"])
    assert data_files(warehouse) == before
    failed = [r for r in warehouse.read(LOADS).to_pylist() if r["status"] == "failed"]
    assert len(failed) == 1 and "root element is <html>" in failed[0]["message"]
    assert not list(warehouse.root.rglob("*.tmp"))


def test_server_error_storm_fails_clearly_and_writes_nothing(cbr_env, warehouse):
    ingest_rates(start=dt.date(2025, 3, 28), end=dt.date(2025, 4, 3), currencies=["CNY"])
    before = data_files(warehouse)
    cbr_env.faults.extend([status(503)] * 50)
    with pytest.raises(TransientSourceError, match=r"HTTP 503.*gave up after 4 attempts"):
        ingest_rates(start=dt.date(2025, 3, 20), end=dt.date(2025, 4, 3), currencies=["CNY"])
    assert data_files(warehouse) == before


def test_transient_errors_are_retried_and_the_run_succeeds(cbr_env, warehouse):
    cbr_env.faults.extend([status(500), status(429, {"Retry-After": "0"})])
    summary = ingest_rates(start=dt.date(2025, 4, 1), end=dt.date(2025, 4, 1),
                           currencies=["CNY"])
    assert summary.inserted == 1
    # The directory is asked first: 500, 429, then served; then d=1 and the daily document.
    assert cbr_env.requests["XML_valFull.asp"] == 4
    assert cbr_env.total_requests == 5


def test_malformed_records_go_to_quarantine_and_good_ones_on(cbr_env, warehouse):
    broken = ('<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="01.04.2025" '
              'name="Foreign Currency Market"><Valute ID="R01375"><NumCode>156</NumCode>'
              "<CharCode>CNY</CharCode><Nominal>1</Nominal><Name>Юань</Name>"
              "<Value>-11,7136</Value></Valute>"
              '<Valute ID="R01335"><NumCode>398</NumCode><CharCode>KZT</CharCode>'
              "<Nominal>100</Nominal><Name>Тенге</Name><Value>16,9831</Value></Valute>"
              "</ValCurs>").encode("cp1251")
    cbr_env.faults.append(body(broken, "application/xml; charset=windows-1251",
                               path="XML_daily.asp"))
    summary = ingest_rates(start=dt.date(2025, 4, 1), end=dt.date(2025, 4, 1),
                           currencies=["CNY", "KZT"])
    assert summary.inserted == 1 and summary.rejected == 1
    assert [r[1] for r in stored(warehouse, "KZT")] == ["R01335"]
    assert stored(warehouse, "CNY") == []
    quarantined = warehouse.read(QUARANTINE).to_pylist()
    assert len(quarantined) == 1
    assert quarantined[0]["reason"] == ("value must be greater than 0, got -11.7136; "
                                        "unit_rate must be greater than 0, got -11.7136")
    assert '"cbr_id": "R01375"' in quarantined[0]["record"]


def test_readers_keep_working_while_an_ingestion_runs(cbr_env, warehouse, tmp_path,
                                                      monkeypatch):
    """Readers in the middle of a write see the last committed snapshot, without waiting.

    The writer is held inside its transaction (after its upsert, before its commit) until the
    readers are done: events, not timing, make the reads fall inside the write.
    """
    import threading

    ingest_rates(start=dt.date(2025, 3, 28), end=dt.date(2025, 4, 3), currencies=["CNY"])
    committed = warehouse.read(RATES).num_rows
    in_transaction, readers_done = threading.Event(), threading.Event()
    upsert = merge.upsert

    def upsert_then_wait(connection, table, rows):
        diff = upsert(connection, table, rows)
        if table.name == "rates":
            in_transaction.set()
            assert readers_done.wait(60)
        return diff

    monkeypatch.setattr(merge, "upsert", upsert_then_wait)
    outcome: dict = {}

    def ingest():
        outcome["summary"] = ingest_rates(start=dt.date(2024, 1, 1), end=dt.date(2025, 4, 3))

    worker = threading.Thread(target=ingest)
    worker.start()
    monkeypatch.chdir(tmp_path)  # the plain client attaches by absolute path
    try:
        assert in_transaction.wait(120)
        connection = plain_reader(warehouse)
        during = connection.execute("SELECT count(*) FROM rates").fetchone()[0]
        connection.close()
        board = run_query(warehouse, "SELECT count(*) AS n FROM currency_board "
                                     "WHERE as_of_date = '2025-04-01'").column("n")[0].as_py()
    finally:
        readers_done.set()
        worker.join()
    assert during == committed and board > 0
    assert outcome["summary"].inserted > 1000
    assert warehouse.read(RATES).num_rows == committed + outcome["summary"].inserted
