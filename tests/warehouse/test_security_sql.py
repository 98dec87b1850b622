"""The SQL surface: read-only at the connection, and no input that reaches SQL or a path.

`sco-etl query` checks the statement type with DuckDB's parser, but the guarantee must not rest
on that: the connection itself (`warehouse.query.connect_read_only`) refuses every write, even
for SQL the check would let through. Parameters that reach SQL or file paths — currency codes,
dates, feed URLs, partition values — are validated or bound.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from sco_etl.schemas import LOADS, NEWS, RATES
from sco_etl.schemas.errors import ConfigError, ReadOnlyQueryError, WarehouseError
from sco_etl.warehouse import Warehouse, connect_read_only, run_query
from tests.fakes.reliability import data_files, plain_reader

runner = CliRunner()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, cbr_service, prefect_harness):
    """A warehouse with a few weeks of rates, built once; each test gets its own copy."""
    from sco_etl.flows.rates import ingest_rates

    root = tmp_path_factory.mktemp("sql") / "data"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
        monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
        cbr_service.faults.clear()
        ingest_rates(start=dt.date(2025, 3, 1), end=dt.date(2025, 4, 3),
                     currencies=["CNY", "KZT"], data_dir=str(root), cbr_url=cbr_service.url)
    return root


@pytest.fixture
def warehouse(loaded, tmp_path, monkeypatch) -> Warehouse:
    root = tmp_path / "data"
    shutil.copytree(loaded, root)  # a moved data directory reads its own files
    monkeypatch.setenv("SCO_ETL_DATA_DIR", str(root))
    return Warehouse(root, lock_timeout=5)


def everything(warehouse: Warehouse) -> dict[str, bytes]:
    """Every file of the data directory, the catalog included, and what lies beside it; not
    the run logs under `logs/`, where a refused command writes why (issue 11), nor SQLite's
    `-shm` index and an empty `-wal`, which opening the catalog creates and which hold no
    data (a write would show in the `-wal`)."""
    logs = warehouse.root / "logs"
    files = {str(p.relative_to(warehouse.root.parent)): p.read_bytes()
             for p in sorted(warehouse.root.parent.rglob("*"))
             if p.is_file() and logs not in p.parents and not p.name.endswith("-shm")}
    return {name: data for name, data in files.items() if data or not name.endswith("-wal")}


def a_rates_file(warehouse: Warehouse):
    return warehouse.root / next(p for p in data_files(warehouse) if "/rates/" in p)


def writes(root, target) -> list[str]:
    outside = root.parent / "outside.csv"
    return [
        "INSERT INTO rates SELECT * FROM rates",
        "DELETE FROM rates",
        "UPDATE rates SET value = 0",
        "CREATE TABLE stolen AS SELECT * FROM rates",
        "CREATE OR REPLACE VIEW rates AS SELECT 1 AS x",
        "CREATE MACRO evil(x) AS x",
        f"COPY (SELECT 1 AS x) TO '{root}/new.parquet' (FORMAT parquet)",
        f"COPY (SELECT 1 AS x) TO '{root}/catalog.sqlite' (FORMAT csv)",
        f"COPY (SELECT 1 AS x) TO '{outside}'",
        f"COPY rates FROM '{target}'",
        f"EXPORT DATABASE '{root}/export'",
        f"ATTACH '{root}/other.duckdb' AS other",
        "DETACH sco",
        "DROP VIEW currency_board",
        "DROP TABLE rates",
        "CHECKPOINT",
        "SET enable_external_access = true",
        f"SET allowed_directories = ['{root.parent}']",
        "RESET lock_configuration",
        "SET lock_configuration = false",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        f"SELECT * FROM read_text('{root}/../outside.csv')",
        "SELECT * FROM glob('/etc/*')",
        "CREATE SECRET leak (TYPE s3, KEY_ID 'x', SECRET 'y')",
    ]


def test_the_connection_refuses_every_write_even_past_the_statement_check(warehouse,
                                                                          reliability):
    before = everything(warehouse)
    refused = []
    connection = connect_read_only(warehouse)
    try:
        for statement in writes(warehouse.root, a_rates_file(warehouse)):
            with pytest.raises(duckdb.Error):
                connection.execute(statement).fetchall()
            refused.append(statement.split()[0])
        # ... and it still reads: the views and macros work over the committed files.
        count = connection.execute("SELECT count(*) FROM rates").fetchone()[0]
        board = connection.execute("SELECT count(*) FROM board(DATE '2025-04-01')").fetchone()[0]
    finally:
        connection.close()
    # What DuckDB lets through touches only this connection's own temporary objects.
    connection = connect_read_only(warehouse)
    try:
        for harmless in ( "CREATE TEMP TABLE t AS SELECT 1",
                         "ATTACH ':memory:' AS scratch", "CREATE TABLE scratch.t AS SELECT 1",
                         "PRAGMA enable_profiling"):
            connection.execute(harmless)
    finally:
        connection.close()
    assert count > 0 and board > 0
    assert everything(warehouse) == before
    assert run_query(warehouse, "SELECT count(*) AS n FROM rates").column("n")[0].as_py() == count
    reliability.record(
        "SQL surface", "writes on connect_read_only (statement check bypassed)",
        f"{len(refused)} statements: INSERT, DELETE, UPDATE, DROP, CREATE, COPY TO/FROM, "
        "EXPORT, ATTACH, DETACH, SET, RESET, INSTALL, LOAD, read_csv/read_text/glob, "
        "CREATE SECRET",
        "every one refused by DuckDB (only the connection's own in-memory scratch can be "
        "changed); files byte-identical; reads still work",
        rows_lost=0, partial_files=0)


def test_the_query_connection_does_not_lock_down_other_connections(warehouse):
    # DuckDB settings belong to a database instance; one shared with the user's own
    # connection to sco.duckdb would switch off its file access (issue 5).
    own = plain_reader(warehouse)
    try:
        expected = own.execute("SELECT count(*) FROM rates").fetchone()[0]
        assert run_query(warehouse, "SELECT count(*) AS n FROM rates").column("n")[0].as_py() == (
            expected)
        assert own.execute("SELECT current_setting('enable_external_access')").fetchone()[0]
        assert own.execute("SELECT count(*) FROM rates").fetchone()[0] == expected
    finally:
        own.close()


def test_explain_analyze_cannot_smuggle_a_copy_through_sco_etl_query(warehouse, reliability):
    # EXPLAIN ANALYZE runs its statement, and DuckDB classifies it as EXPLAIN: the statement-type
    # check lets it through, so only the connection stands between it and the data files.
    target = a_rates_file(warehouse)
    before = everything(warehouse)
    for sql in (f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{target}' (FORMAT parquet)",
                f"EXPLAIN ANALYZE EXPORT DATABASE '{warehouse.root}/export'"):
        with pytest.raises(WarehouseError):
            run_query(warehouse, sql)
        result = runner.invoke(app, ["query", sql])
        assert result.exit_code == 1
    assert everything(warehouse) == before
    assert Warehouse(warehouse.root).read(RATES).num_rows > 0
    reliability.record(
        "SQL surface", "EXPLAIN ANALYZE COPY ... TO a data file, via sco-etl query",
        "a statement DuckDB classifies as EXPLAIN that executes a COPY into the data directory",
        "refused: the statement check reads what EXPLAIN ANALYZE runs (a COPY); the "
        "data file intact")


@pytest.mark.parametrize("sql", [
    "DELETE FROM rates", "DROP VIEW rates", "SELECT 1; DROP VIEW rates",
    "ATTACH 'x.duckdb' AS x", "SET enable_external_access = true", "COPY rates TO 'x.csv'",
    "CREATE TABLE t AS SELECT 1", "INSERT INTO rates SELECT * FROM rates",
])
def test_sco_etl_query_refuses_writes_and_changes_nothing(warehouse, sql):
    before = everything(warehouse)
    result = runner.invoke(app, ["query", sql])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert everything(warehouse) == before


def test_queries_bind_their_parameters(warehouse):
    with pytest.raises(WarehouseError, match=r"Conversion Error|Could not convert"):
        run_query(warehouse, "SELECT * FROM board(?::DATE)", ["x'; DROP VIEW rates; --"])
    # DuckDB reads a date off the front of a longer text; the rest stays data.
    board = run_query(warehouse, "SELECT * FROM board(?::DATE)",
                      ["2025-04-01'; DROP VIEW rates; --"])
    assert set(board.column("as_of_date").to_pylist()) == {dt.date(2025, 4, 1)}
    rows = run_query(warehouse, "SELECT count(*) AS n FROM rates WHERE char_code = ?",
                     ["CNY' OR '1'='1"])
    assert rows.column("n").to_pylist() == [0]
    assert run_query(warehouse, "SELECT count(*) AS n FROM rates").column("n")[0].as_py() > 0
    with pytest.raises(ReadOnlyQueryError):
        run_query(warehouse, "SELECT 1; SELECT 2")


# --- parameters that reach SQL or paths ---------------------------------------------------------


@pytest.mark.parametrize("codes", [
    "CNY'; DROP VIEW rates; --", "../../etc", "CNY,KZT;DELETE", "C N Y", "ЮАН", "cny/../../x",
])
def test_sco_etl_rates_refuses_a_hostile_currency_code_before_any_request(
        warehouse, fake_cbr, monkeypatch, codes, prefect_harness, reliability):
    monkeypatch.setenv("SCO_ETL_CBR_URL", fake_cbr.url)
    before = everything(warehouse)
    loads = warehouse.read(LOADS).num_rows
    result = runner.invoke(app, ["rates", "--currencies", codes])
    assert result.exit_code == 2  # refused before anything starts
    assert "not ISO 4217 alpha codes" in result.output
    assert fake_cbr.total_requests == 0
    assert everything(warehouse) == before and warehouse.read(LOADS).num_rows == loads
    reliability.record(
        "SQL surface", f"sco-etl rates --currencies {codes!r}", "a hostile currency code",
        "refused at the edge: 'not ISO 4217 alpha codes', no request, nothing written")


def test_hostile_currency_codes_in_the_environment_are_refused(monkeypatch):
    from sco_etl.flows.config import resolve

    monkeypatch.setenv("SCO_ETL_CURRENCIES", "CNY,'; DROP VIEW rates; --")
    with pytest.raises(ConfigError, match="not ISO 4217 alpha codes"):
        resolve()


@pytest.mark.parametrize("argv", [
    ["rates", "--start", "2025-01-01'; DROP VIEW rates; --"],
    ["rates", "--end", "../../etc"],
    ["board", "--date", "2025-04-01' OR 1=1 --"],
])
def test_hostile_dates_are_refused_by_the_command_line(warehouse, argv):
    before = everything(warehouse)
    result = runner.invoke(app, argv)
    assert result.exit_code == 2 and "is not a date: give YYYY-MM-DD" in result.output
    assert everything(warehouse) == before


@pytest.mark.parametrize("feed", ["file:///etc/passwd", "javascript:alert(1)", "../../etc",
                                  "ftp://example.org/feed.xml"])
def test_news_refuses_a_feed_that_is_not_http(feed, tmp_path, prefect_harness):
    from sco_etl.flows.news import ingest_news

    with pytest.raises(ConfigError, match="must be an http"):
        ingest_news(feeds=[feed], data_dir=str(tmp_path / "data"))
    assert not (tmp_path / "data" / "news").exists()


def test_a_feed_url_full_of_sql_and_dots_is_only_data(tmp_path, httpserver, monkeypatch,
                                                      prefect_harness):
    from sco_etl.flows.news import ingest_news

    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    httpserver.expect_request("/a/b/feed.xml").respond_with_data(
        '<rss version="2.0"><channel><title>t</title><item><title>One</title>'
        "<link>http://example.org/1</link><pubDate>Mon, 13 Jan 2020 14:10:00 +0300</pubDate>"
        "</item></channel></rss>", content_type="application/rss+xml")
    feed = httpserver.url_for("/a/b/feed.xml") + "?q=x'%3B%20DROP%20VIEW%20news%3B%20--&p=../../etc"
    root = tmp_path / "data"
    ingest_news(feeds=[feed], fetch_articles=False, data_dir=str(root))
    warehouse = Warehouse(root)
    assert [r["source"] for r in warehouse.read(NEWS).to_pylist()] == [feed]
    assert run_query(warehouse, "SELECT count(*) AS n FROM news_feed").column("n")[0].as_py() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert all(root in p.resolve().parents for p in root.rglob("*"))


def test_a_data_directory_with_a_quote_in_its_name_works(tmp_path, fake_cbr, monkeypatch,
                                                         prefect_harness):
    from sco_etl.flows.rates import ingest_rates

    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    root = tmp_path / "o'brien's data"
    ingest_rates(start=dt.date(2025, 4, 1), end=dt.date(2025, 4, 3), currencies=["CNY"],
                 data_dir=str(root), cbr_url=fake_cbr.url)
    warehouse = Warehouse(root)
    assert run_query(warehouse, "SELECT count(*) AS n FROM rates").column("n")[0].as_py() == 3
    external = plain_reader(warehouse)
    try:
        assert external.execute("SELECT count(*) FROM rates").fetchone()[0] == 3
    finally:
        external.close()
    assert data_files(warehouse)
