"""The `sco-etl` command line, in-process, against the fake CBR."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from sco_etl.schemas.clock import moscow_today

runner = CliRunner()


@pytest.fixture
def loaded(cbr_env, prefect_harness):
    result = runner.invoke(app, ["rates", "--start", "2025-03-28", "--end", "2025-04-03"])
    assert result.exit_code == 0, result.output
    return result


def test_rates_reports_what_it_wrote(loaded):
    assert "rates 2025-03-28..2025-04-03:" in loaded.output
    assert "0 rejected" in loaded.output
    assert "not quoted by CBR: MMK, MVR" in loaded.output


def test_board_prints_the_seed_box(loaded):
    result = runner.invoke(app, ["board", "--date", "2025-04-01"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines()
             if line.count("│") > 3}
    assert "11.7136" in lines["China"] and " 1 " in lines["China"]
    assert "16.9831" in lines["Kazakhstan"] and "100" in lines["Kazakhstan"]
    assert "66.2085" in lines["Uzbekistan"] and "10000" in lines["Uzbekistan"]


def test_query_csv_and_json_keep_exact_decimals(loaded):
    sql = ("SELECT char_code, value FROM rates WHERE rate_date = '2025-04-01' "
           "AND char_code IN ('CNY', 'UZS') ORDER BY 1")
    as_csv = runner.invoke(app, ["query", sql, "--format", "csv"])
    assert list(csv.reader(io.StringIO(as_csv.output))) == [
        ["char_code", "value"], ["CNY", "11.7136"], ["UZS", "66.2085"]]
    as_json = runner.invoke(app, ["query", sql, "--format", "json"])
    assert json.loads(as_json.output) == [{"char_code": "CNY", "value": "11.7136"},
                                          {"char_code": "UZS", "value": "66.2085"}]


def test_query_refuses_writes_with_a_clear_message(loaded):
    result = runner.invoke(app, ["query", "DELETE FROM rates"])
    assert result.exit_code == 1
    assert "refused a DELETE statement" in result.output


def test_status_reports_dates_rows_and_loads(loaded):
    result = runner.invoke(app, ["status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "rates: 2025-03-28 .. 2025-04-03" in result.output
    assert "0 gaps" in result.output
    assert "completed" in result.output


def test_bad_currency_code_is_refused_before_anything_starts(cbr_env):
    result = runner.invoke(app, ["rates", "--currencies", "C1Y"])
    assert (result.exit_code, result.output) == (
        2, "error: --currencies C1Y: not ISO 4217 alpha codes (three letters, e.g. CNY,KZT)\n")
    assert cbr_env.requests == {}


def test_catalog_prints_what_a_plain_duckdb_client_runs_from_anywhere(loaded, cbr_env,
                                                                     tmp_path, monkeypatch):
    import duckdb

    result = runner.invoke(app, ["catalog"])
    assert result.exit_code == 0, result.output
    comments = [line for line in result.output.splitlines() if line.startswith("--")]
    (ducklake,) = duckdb.connect().execute(
        "LOAD ducklake; SELECT extension_version FROM duckdb_extensions() "
        "WHERE extension_name = 'ducklake'").fetchone()
    assert comments == [  # issue 18, item 9: which DuckDB reads it
        f"-- Read by DuckDB 1.5.5 with its ducklake extension {ducklake} "
        "(DuckLake catalog format 1.0).",
        "-- A client must use DuckDB 1.5.5 (pip install duckdb==1.5.5): a DuckDB 2.x client "
        "fails to load the pinned DuckLake extension."]
    statements = [line for line in result.output.splitlines()
                  if line.strip() and not line.startswith("--")]
    assert statements[0].startswith("ATTACH 'ducklake:sqlite:/") and "(READ_ONLY" in statements[0]
    assert statements[-2] == "USE sco;"
    assert statements[-1] == ("SET VARIABLE sco_today = "
                              "CAST(timezone('Europe/Moscow', get_current_timestamp()) AS DATE);")
    monkeypatch.chdir("/")
    connection = duckdb.connect()  # a plain client: the extensions autoload
    for statement in statements:
        connection.execute(statement)
    names = {name for (name,) in connection.execute("SHOW TABLES").fetchall()}
    assert {"rates", "news", "loads", "currency_board", "rates_daily", "cross_rates",
            "news_feed", "sco_currencies"} <= names
    assert connection.execute(
        "SELECT value FROM board(DATE '2025-04-01') WHERE char_code = 'CNY'").fetchone()[0] == (
        Decimal("11.7136"))
    # the views carry the latest rates to Moscow's today, as sco-etl's own connections do
    today = connection.execute("SELECT getvariable('sco_today')").fetchone()[0]
    assert today == moscow_today()
    assert connection.execute("SELECT max(as_of_date) FROM rates_daily").fetchone()[0] >= today
    connection.close()


def test_known_at_and_changes_show_the_warehouse_as_it_was(loaded, cbr_env):
    import datetime as dt

    from sco_etl.flows.config import resolve
    from sco_etl.warehouse import api

    warehouse = resolve().warehouse()
    first_load = api.open(warehouse).snapshots().to_arrow_table().to_pylist()[-1]["snapshot_time"]
    between = (first_load + dt.timedelta(microseconds=1)).isoformat()
    result = runner.invoke(app, ["rates", "--start", "2025-04-04", "--end", "2025-04-08"])
    assert result.exit_code == 0, result.output
    count = "SELECT count(*) AS n FROM rates WHERE rate_date > '2025-04-03'"
    now = runner.invoke(app, ["query", count, "-f", "csv"])
    then = runner.invoke(app, ["query", count, "-f", "csv", "--known-at", between])
    assert int(now.output.split()[-1]) > 0 and then.output.split()[-1] == "0"
    board = runner.invoke(app, ["board", "--date", "2025-04-08", "--known-at", between],
                          env={"COLUMNS": "200"})
    assert board.exit_code == 0 and "2025-04-03" in board.output  # the publication known then
    changes = runner.invoke(app, ["changes", "--since", between], env={"COLUMNS": "200"})
    assert changes.exit_code == 0, changes.output
    rates_line = next(line for line in changes.output.splitlines() if "│ rates " in line)
    assert rates_line.split("│")[2].strip() == now.output.split()[-1]  # inserted
    bad = runner.invoke(app, ["query", "SELECT 1", "--known-at", "yesterday"])
    assert (bad.exit_code, bad.output) == (
        2, "error: --known-at 'yesterday' is not a time: give an ISO time like "
           "2025-04-01T18:00+03:00 (without a zone: UTC)\n")


def test_maintain_and_export_from_the_command_line(loaded, cbr_env, tmp_path):
    maintained = runner.invoke(app, ["maintain", "--retention-days", "30"])
    assert maintained.exit_code == 0, maintained.output
    assert "maintained:" in maintained.output
    exported = runner.invoke(app, ["export", str(tmp_path / "plain")])
    assert exported.exit_code == 0, exported.output
    assert list((tmp_path / "plain" / "rates").glob("year=2025/*.parquet"))
