"""Input is checked before anything starts (issue 18, items 4, 5 and 7).

A value a command cannot use is one line naming it and what would be valid, exit status 2:
no request, no log file, no data directory, no Prefect import, no server. The console-script
tests run `sco-etl` as a person does, with no Prefect server anywhere to use.

By hand: `sco-etl rates --currencies XYZ; echo $?` prints the line and 2, at once.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from sco_etl.schemas import CURRENCIES
from sco_etl.schemas.clock import moscow_tomorrow
from sco_etl.schemas.reference import default_sco_currency_codes
from sco_etl.warehouse import api
from sco_etl.warehouse.ddl import BASE_TABLES
from tests.fakes.seed import store_rates

SCO_ETL = Path(sys.executable).parent / "sco-etl"
runner = CliRunner()
TOMORROW = moscow_tomorrow()
RANGE = f"give a date from 1992-07-01 to {TOMORROW} (tomorrow, Moscow)"
SCO_CODES = ", ".join(default_sco_currency_codes())


def refused(args: list[str], data: Path) -> str:
    """The one line `sco-etl <args>` prints, checking it exits 2 and creates nothing."""
    result = runner.invoke(app, args, env={"SCO_ETL_DATA_DIR": str(data)})
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.output
    return result.stderr.rstrip("\n")


@pytest.mark.parametrize(("args", "line"), [
    (["rates", "--currencies", "XYZ"],
     f"error: --currencies XYZ: unknown currency code: give an SCO currency ({SCO_CODES})"),
    (["rates", "--currencies", "cny, XYZ,ABC"],
     f"error: --currencies XYZ,ABC: unknown currency codes: give an SCO currency ({SCO_CODES})"),
    (["rates", "--currencies", "C1Y"],
     "error: --currencies C1Y: not ISO 4217 alpha codes (three letters, e.g. CNY,KZT)"),
    (["rates", "--currencies", " , "],
     "error: --currencies ' , ' names no currency: give ISO codes like CNY,KZT"),
    (["rates", "--start", "2025-02-01", "--end", "2025-01-01"],
     "error: --start 2025-02-01 is after --end 2025-01-01: give a start on or before the end"),
    (["rates", "--start", "1850-01-01", "--end", "1850-02-01"],
     f"error: --start 1850-01-01 is before CBR's first rates: {RANGE}"),
    (["rates", "--end", str(TOMORROW + dt.timedelta(days=1))],
     f"error: --end {TOMORROW + dt.timedelta(days=1)} is after the latest rates CBR can have "
     f"published: {RANGE}"),
    (["rates", "--start", "2025-13-01"],
     f"error: --start '2025-13-01' is not a date: give YYYY-MM-DD, from 1992-07-01 to "
     f"{TOMORROW} (tomorrow, Moscow)"),
    (["board", "--date", "1990-01-01"],
     f"error: --date 1990-01-01 is before CBR's first rates: {RANGE}"),
    (["page", "--date", "1990-01-01"],
     f"error: --date 1990-01-01 is before CBR's first rates: {RANGE}"),
    (["plot", "--start", "2024-01-01", "--end", "2023-01-01"],
     "error: --start 2024-01-01 is after --end 2023-01-01: give a start on or before the end"),
    (["news", "search", ""],
     "error: news search '' holds no word to look for: give one or more words, e.g. "
     "sco-etl news search \"Kazakhstan\""),
    (["news", "search", " !? "],
     "error: news search ' !? ' holds no word to look for: give one or more words, e.g. "
     "sco-etl news search \"Kazakhstan\""),
    (["news", "--feed", "ftp://example.org/rss"],
     "error: --feed 'ftp://example.org/rss' is not an http(s) URL: give the address of a feed "
     "or listing page, e.g. https://example.org/rss.xml"),
    (["changes", "--since", "yesterday"],
     "error: --since 'yesterday' is not a time: give an ISO time like 2025-04-01T18:00+03:00 "
     "(without a zone: UTC)"),
    (["changes", "--since", "2025-01-01", "--table", "rate"],
     "error: --table 'rate' is not a table of the warehouse: give one of "
     + ", ".join(table.name for table in BASE_TABLES)),
    (["board", "--known-at", "2025-04-01 noon"],
     "error: --known-at '2025-04-01 noon' is not a time: give an ISO time like "
     "2025-04-01T18:00+03:00 (without a zone: UTC)"),
    (["status", "--format", "csv"],
     "error: --format csv: status prints several tables; give table or json (or `sco-etl "
     "query` for one table as CSV)"),
    (["serve", "--cron", "0 * * * *", "--interval", "60"],
     "error: give --cron or --interval, not both"),
])
def test_a_refused_value_is_one_line_and_exit_2_and_creates_nothing(args, line, tmp_path):
    data = tmp_path / "data"
    assert refused(args, data) == line
    assert not data.exists()


def test_known_at_before_the_first_snapshot_names_the_valid_span(warehouse):
    """The README's own example on a new warehouse (issue 18, item 5)."""
    warehouse.migrate()
    first = api.first_snapshot_time(warehouse)
    earliest = (first.replace(microsecond=0) + dt.timedelta(seconds=1)).isoformat()
    for command in (["board"], ["query", "SELECT 1"], ["page"]):
        line = refused([*command, "--known-at", "2025-04-01T12:00+03:00"], warehouse.root)
        assert line.startswith(
            "error: --known-at 2025-04-01T09:00:00+00:00 is before the warehouse's first "
            f"snapshot: give a moment from {earliest} (its first snapshot) to now (")
    line = refused(["board", "--known-at", "2999-01-01"], warehouse.root)
    assert line.startswith("error: --known-at 2999-01-01T00:00:00+00:00 is in the future: "
                           f"give a moment from {earliest} (its first snapshot) to now (")


def test_codes_of_the_stored_directory_are_valid_too(warehouse):
    warehouse.migrate()
    store_rates(warehouse, dt.date(2025, 4, 1))
    usd = {"cbr_id": "R01235", "parent_id": "R01235", "char_code": "USD", "num_code": "840",
           "name_ru": "Доллар США", "name_en": "US Dollar", "nominal": 1,
           "frequency": "daily", "source": "directory"}
    with warehouse.write() as writer:
        writer.upsert(CURRENCIES, pa.Table.from_pylist([usd], schema=CURRENCIES.arrow_schema))
    line = refused(["plot", "--currencies", "USD,XYZ"], warehouse.root)
    assert line == (f"error: --currencies XYZ: unknown currency code: give an SCO currency "
                    f"({SCO_CODES}) or a code of the stored CBR directory (`sco-etl query "
                    "\"SELECT char_code, name_en FROM currencies\"` lists them)")
    accepted = runner.invoke(app, ["plot", "--currencies", "USD", "--start", "2025-01-01"],
                             env={"SCO_ETL_DATA_DIR": str(warehouse.root)})
    assert accepted.exit_code == 1  # checked, then: no USD rates stored
    assert "no rates stored for USD from 2025-01-01" in accepted.stderr


def test_an_unwritable_export_folder_is_a_clear_sentence(warehouse):
    warehouse.migrate()
    result = runner.invoke(app, ["export", "/proc/forbidden/plain"],
                           env={"SCO_ETL_DATA_DIR": str(warehouse.root)})
    assert (result.exit_code, result.stderr.splitlines()) == (1, [
        "error: sco-etl export failed: cannot write an export to /proc/forbidden/plain: "
        "No such file or directory",
        "The warehouse is unchanged (this command only reads).",
        "Give a folder in a place you can write (its parent is created if missing)."])


def test_query_names_the_refused_statement_with_its_article(warehouse):
    warehouse.migrate()
    env = {"SCO_ETL_DATA_DIR": str(warehouse.root)}
    attach = runner.invoke(app, ["query", "ATTACH 'elsewhere.duckdb' AS x"], env=env)
    delete = runner.invoke(app, ["query", "DELETE FROM rates"], env=env)
    assert (attach.exit_code, attach.stderr.splitlines()) == (1, [
        "error: sco-etl query failed: refused an ATTACH statement: `sco-etl query` only "
        "reads. Change data through the ingestion commands.",
        "The warehouse is unchanged (this command only reads)."])
    assert delete.stderr.startswith("error: sco-etl query failed: refused a DELETE statement")
    assert not (warehouse.root / "logs").exists()  # a refused query leaves no log


@pytest.mark.parametrize("args", [
    ["rates", "--currencies", "XYZ"],
    ["rates", "--start", "2025-02-01", "--end", "2025-01-01"],
])
def test_the_console_script_refuses_before_prefect_is_imported(args, tmp_path):
    """No Prefect import, no server, no log, no data directory: nothing starts."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "SCO_ETL_"))}
    env.update(SCO_ETL_DATA_DIR=str(data), PREFECT_HOME=str(tmp_path / "prefect-home"))
    done = subprocess.run([sys.executable, "-X", "importtime", str(SCO_ETL), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")]
    printed = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert (done.returncode, done.stdout, len(printed)) == (2, "", 1), done.stderr
    assert printed[0].startswith("error: --")
    assert not [name for name in imported if name.split(".")[0] == "prefect"]
    assert not data.exists() and not (tmp_path / "prefect-home").exists()
