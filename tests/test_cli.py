"""The `sco-etl` command line, in-process, against the fake CBR."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from flows.cli import app

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


def test_bad_currency_code_is_a_clear_error(cbr_env, prefect_harness):
    result = runner.invoke(app, ["rates", "--currencies", "C1Y"])
    assert result.exit_code == 1
    assert "not ISO 4217 alpha codes: C1Y" in result.output
