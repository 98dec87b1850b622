"""Commands that read create nothing, and load nothing they do not use (issues 18 and 19).

A missing warehouse is an answer: one line, exit 1 (`status`: 0), and no data directory,
catalog, `lake/`, `logs/` or search index made on the way (issue 18, item 3). The quick
commands import no Prefect, and `sco-etl --help` nothing heavy (issue 19).

By hand: `SCO_ETL_DATA_DIR=/nonexistent/dir sco-etl board; echo $?; ls /nonexistent`.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from tests.fakes.seed import store_rates

SCO_ETL = Path(sys.executable).parent / "sco-etl"
runner = CliRunner()
READERS = [
    ["board"], ["query", "SELECT 1"], ["page"], ["changes", "--since", "2025-04-01"],
    ["export", "plain-copy"], ["catalog"], ["news", "search", "Kazakhstan"], ["plot"],
    ["maintain"],
]


def no_warehouse_line(data: Path) -> str:
    return f"no warehouse at {data} — `sco-etl rates` creates one, or set SCO_ETL_DATA_DIR\n"


@pytest.mark.parametrize("args", READERS, ids=lambda args: args[0] if args[0] != "news"
                         else "news-search")
def test_a_reader_without_a_warehouse_says_so_in_one_line_and_creates_nothing(
    args, tmp_path, monkeypatch,
):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "nonexistent" / "dir"
    result = runner.invoke(app, args, env={"SCO_ETL_DATA_DIR": str(data)})
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", no_warehouse_line(data))
    assert list(tmp_path.iterdir()) == []  # no data dir, no export folder, no plot, no logs


def test_status_without_a_warehouse_answers_and_exits_0(tmp_path):
    data = tmp_path / "data"
    result = runner.invoke(app, ["status"], env={"SCO_ETL_DATA_DIR": str(data)})
    assert (result.exit_code, result.output) == (0, no_warehouse_line(data) + (
        "prefect server none — the next `sco-etl rates`, `news` or `maintain` starts one\n"))
    assert not data.exists()


def test_from_another_folder_the_default_data_dir_is_not_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCO_ETL_DATA_DIR", raising=False)
    result = runner.invoke(app, ["board"])
    assert (result.exit_code, result.stderr) == (1, no_warehouse_line(tmp_path / "data"))
    assert list(tmp_path.iterdir()) == []


def test_a_data_dir_without_a_catalog_stays_as_it_was(tmp_path):
    data = tmp_path / "data"
    (data / "site").mkdir(parents=True)
    for args in READERS:
        runner.invoke(app, args, env={"SCO_ETL_DATA_DIR": str(data)})
    assert [p.name for p in data.iterdir()] == ["site"]
    assert list((data / "site").iterdir()) == []


@pytest.fixture
def stored(warehouse) -> Path:
    warehouse.migrate()
    store_rates(warehouse, dt.date(2025, 4, 1), dt.date(2025, 4, 2))
    return warehouse.root


def imported_by(args: list[str], env: dict[str, str], cwd: Path
                ) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the console script; what it printed, and the top-level packages it imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", str(SCO_ETL), *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    packages = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in done.stderr.splitlines() if line.startswith("import time:")}
    return done, packages


@pytest.mark.parametrize("args", [
    ["board", "--date", "2025-04-02"], ["query", "SELECT count(*) FROM rates"], ["status"],
    ["catalog"], ["page", "--date", "2025-04-02", "--output", "site"],
], ids=lambda args: args[0])
def test_quick_commands_import_no_prefect(args, stored, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SCO_ETL_"))}
    env.update(SCO_ETL_DATA_DIR=str(stored), COLUMNS="200")
    done, packages = imported_by(args, env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "prefect" not in packages and "duckdb" in packages


def test_help_imports_nothing_heavy(tmp_path):
    """`sco-etl --help` stays well under half a second: no pyarrow, DuckDB or Prefect."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SCO_ETL_"))}
    env.update(SCO_ETL_DATA_DIR=str(tmp_path / "data"))
    for args in (["--help"], ["rates", "--help"], ["board", "--help"]):
        done, packages = imported_by(args, env, tmp_path)
        assert done.returncode == 0 and "Usage: sco-etl" in done.stdout, done.stderr
        assert not packages & {"prefect", "pyarrow", "duckdb", "pandas", "numpy", "httpx",
                               "requests", "psutil"}, (args, sorted(packages))
    assert not (tmp_path / "data").exists()
