"""What the commands print: tables that fit 80 columns, CSV and JSON (issue 18, item 8), and
run logs that rotate.

By hand: `COLUMNS=80 sco-etl status`, `sco-etl board -f json`, `ls data/logs`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from decimal import Decimal

import pyarrow as pa
import pytest
from rich.console import Console
from typer.testing import CliRunner

from sco_etl.flows.cli import app, render, run_log
from sco_etl.schemas import CURRENCIES
from tests.fakes.seed import store_rates

runner = CliRunner()
LONG = ("5136 new rates, 0 revised, 0 rejected; not quoted by CBR: MMK, MVR "
        "(https://www.cbr.ru/scripts/XML_valFull.asp)")


def printed(renderable, width: int = 80) -> list[str]:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def loads(n: int = 2) -> pa.Table:
    return pa.Table.from_pylist([
        {"started (MSK)": "07.12.2026 02:12", "flow": "ingest-rates", "status": "completed",
         "rows_written": 5136, "rows_rejected": 0, "message": LONG} for _ in range(n)])


def test_a_table_too_wide_for_80_columns_folds_into_blocks_with_every_value_whole():
    lines = printed(render.fitted(Console(width=80), loads(), title="last loads"))
    assert max(len(line) for line in lines) <= 80
    assert lines[:8] == [
        "last loads",
        "── 1 ──",
        "started (MSK)  07.12.2026 02:12",
        "flow           ingest-rates",
        "status         completed",
        "rows_written   5136",
        "rows_rejected  0",
        "message        5136 new rates, 0 revised, 0 rejected; not quoted by CBR: MMK,",
    ]
    assert lines[8:11] == [" " * 15 + "MVR (https://www.cbr.ru/scripts/XML_valFull.asp)",
                           "── 2 ──", "started (MSK)  07.12.2026 02:12"]


def test_a_table_that_fits_stays_a_table():
    rows = pa.table({"table": ["rates", "news"], "rows": [5136, 32]})
    lines = printed(render.fitted(Console(width=80), rows, title="rows per table"))
    assert lines[0].strip() == "rows per table" and "┃ table ┃ rows ┃" in lines[2]
    assert "│ rates │ 5136 │" in lines[4]


def store_yuan(warehouse) -> None:
    """CNY's directory row and two rates: what the board needs to show it."""
    warehouse.migrate()
    yuan = {"cbr_id": "R01375", "parent_id": "R01375", "char_code": "CNY", "num_code": "156",
            "name_ru": "Китайский юань", "name_en": "China Yuan", "nominal": 1,
            "frequency": "daily", "source": "directory"}
    with warehouse.write() as writer:
        writer.upsert(CURRENCIES, pa.Table.from_pylist([yuan], schema=CURRENCIES.arrow_schema))
    store_rates(warehouse, dt.date(2025, 4, 1), dt.date(2025, 4, 2))


def test_wide_tables_of_the_commands_fit_80_columns(warehouse):
    store_yuan(warehouse)
    env = {"SCO_ETL_DATA_DIR": str(warehouse.root), "COLUMNS": "80"}
    for args in (["status"], ["board", "--date", "2025-04-02"],
                 ["changes", "--since", "2020-01-01", "--table", "rates"],
                 ["changes", "--since", "2020-01-01"],
                 ["query", "SELECT * FROM loads, rates"]):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
        # Lines naming paths and URLs are left whole for the terminal to wrap (copyable).
        widest = max(len(line.rstrip()) for line in result.stdout.splitlines()
                     if not line.startswith(("data directory ", "warehouse ",
                                             "prefect server ")))
        assert widest <= 80, (args, result.stdout)
    board = runner.invoke(app, ["board", "--date", "2025-04-02"], env=env).stdout
    china = next(line for line in board.splitlines() if line.startswith("│ China"))
    assert [cell.strip() for cell in china.split("│")[1:-1]] == [
        "China", "member", "CNY", "China Yuan", "1", "11.4927", "2025-04-02"]


@pytest.fixture
def stored(warehouse):
    store_yuan(warehouse)
    return {"SCO_ETL_DATA_DIR": str(warehouse.root)}


def test_board_as_csv_and_json_keeps_exact_decimals(stored):
    as_csv = runner.invoke(app, ["board", "--date", "2025-04-02", "-f", "csv"], env=stored)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    china = next(row for row in rows if row["char_code"] == "CNY")
    assert china == {"country": "China", "status": "member", "char_code": "CNY",
                     "currency": "China Yuan", "nominal": "1", "value": "11.4927",
                     "unit_rate": "11.492700000000", "rate_date": "2025-04-02"}
    as_json = json.loads(runner.invoke(app, ["board", "--date", "2025-04-02", "--format",
                                             "json"], env=stored).stdout)
    assert next(row for row in as_json if row["char_code"] == "CNY")["value"] == "11.4927"
    assert len(as_json) == len(rows)


def test_changes_as_json_holds_both_tables_and_csv_the_counts(stored):
    as_json = json.loads(runner.invoke(app, ["changes", "--since", "2020-01-01", "-f", "json"],
                                       env=stored).stdout)
    assert list(as_json) == ["rows changed since 2020-01-01 00:00:00+00:00", "snapshots"]
    counts = {row["table"]: row["inserted"] for row in as_json[next(iter(as_json))]}
    assert counts["rates"] == 2
    as_csv = runner.invoke(app, ["changes", "--since", "2020-01-01", "-f", "csv"], env=stored)
    assert "rates,2,0,0" in as_csv.stdout.splitlines()
    rows = runner.invoke(app, ["changes", "--since", "2020-01-01", "--table", "rates", "-f",
                               "json"], env=stored)
    assert sorted(row["value"] for row in json.loads(rows.stdout)) == ["11.4927", "11.4927"]


def test_status_as_json_has_every_section(stored):
    result = runner.invoke(app, ["status", "--format", "json"], env=stored)
    document = json.loads(result.stdout)
    assert list(document) == ["data_dir", "catalog", "data_path", "snapshot", "prefect_server",
                              "freshness", "rates", "rows_per_table", "news_sources",
                              "last_loads"]
    assert document["rates"]["first"] == "2025-04-01"
    assert document["rates"]["latest"] == "2025-04-02"
    assert document["rows_per_table"]["rates"] == 2
    assert document["freshness"][0]["subject"] == "rates"


def test_json_values_are_exact_and_iso():
    assert render.json_value(Decimal("11.4927")) == "11.4927"
    assert render.json_value(dt.date(2025, 4, 1)) == "2025-04-01"
    moment = dt.datetime(2025, 4, 1, 9, tzinfo=dt.UTC)
    assert render.json_value(moment) == "2025-04-01T09:00:00+00:00"


def test_the_run_log_is_made_by_its_first_record_and_keeps_the_last_ten(tmp_path):
    folder = tmp_path / "logs"
    handler = run_log.RunLog(folder, "rates")
    assert not folder.exists()  # nothing logged, nothing made
    folder.mkdir()
    old = [folder / f"rates-2020010{day}T000000.000000Z.log" for day in range(1, 10)] + [
        folder / f"rates-2020011{day}T000000.000000Z.log" for day in range(0, 3)]
    for path in old:
        path.write_text("old\n")
    (folder / "news-20200101T000000.000000Z.log").write_text("another command's\n")
    handler.emit(logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None))
    handler.close()
    kept = sorted(p.name for p in folder.glob("rates-*.log"))
    assert len(kept) == run_log.LOGS_KEPT == 10
    assert handler.path.name in kept and "hello" in handler.path.read_text()
    assert kept[0] == "rates-20200104T000000.000000Z.log"  # the three oldest went
    assert (folder / "news-20200101T000000.000000Z.log").exists()


def test_every_option_says_what_it_is_for():
    """Help text for every option and argument, and dates shown as YYYY-MM-DD."""
    import typer.main

    missing, placeholders = [], {}

    def walk(command, path: str) -> None:
        for param in command.params:
            if param.name not in {"help", "install_completion", "show_completion"} and not (
                    getattr(param, "help", None)):
                missing.append(f"{path} {param.name}")
            if param.name in {"date", "start", "end", "since"}:
                placeholders[f"{path} --{param.name}"] = param.metavar
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "sco-etl")
    assert missing == []
    assert {path: metavar for path, metavar in placeholders.items()
            if metavar not in {"YYYY-MM-DD", "TIME"}} == {}
    assert "--start" in " ".join(placeholders) and "news search --since" in " ".join(
        placeholders)
    shown = runner.invoke(app, ["rates", "--help"], env={"COLUMNS": "120"}).stdout
    assert "YYYY-MM-DD" in shown and "%Y" not in shown
