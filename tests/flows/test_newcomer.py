"""A newcomer's first hour: the README's block of commands, run in order, as written.

Each command runs as its own process, the way a person types it, on a fresh data directory,
against the fake CBR and a local news site, with the host's clock in California (so that "today"
must be Moscow's). Nothing points the commands at a Prefect server: the first run starts the
background `sco-etl server`, as it does for a newcomer. Every command of the block must have
its expected output here: the README and this test change together.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from sco_etl.schemas import RATES
from sco_etl.schemas.clock import moscow_today, moscow_tomorrow
from sco_etl.warehouse import Warehouse
from tests.fakes.news_site import NewsSite

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BLOCK = re.compile(r"<!-- newcomer:start -->\n```sh\n(.*?)```\n<!-- newcomer:end -->", re.S)
HOST_ZONE = "America/Los_Angeles"
TIMEOUT = 300


@dataclass
class Ran:
    """A command as the newcomer saw it."""

    command: str
    code: int
    out: str
    err: str


def readme_commands() -> list[list[str]]:
    """The commands of the README's newcomer block, as argument lists (comments dropped)."""
    found = BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md has no newcomer block (<!-- newcomer:start --> … end)"
    lines = [shlex.split(line, comments=True) for line in found.group(1).splitlines()]
    return [args for args in lines if args]


@pytest.fixture
def newcomer(tmp_path, cbr_service, httpserver, pycache):
    feeds = NewsSite(httpserver).serve_feeds()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCO_ETL_", "PREFECT_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "TZ": HOST_ZONE, "COLUMNS": "100", "HOME": str(tmp_path / "home"),
        "PREFECT_HOME": str(tmp_path / "home" / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONPYCACHEPREFIX": str(pycache),
        "SCO_ETL_DATA_DIR": str(tmp_path / "data"), "SCO_ETL_CBR_URL": cbr_service.url,
        "SCO_ETL_NEWS_FEEDS": ",".join(feeds), "SCO_ETL_REQUEST_INTERVAL": "0",
        "SCO_ETL_HTTP_BACKOFF": "0.01",
    })
    (tmp_path / "home").mkdir()

    def run(args: list[str]) -> Ran:
        assert args[0] == "sco-etl"
        done = subprocess.run([str(BIN / "sco-etl"), *args[1:]], env=env,
                              cwd=tmp_path / "home", capture_output=True, text=True,
                              timeout=TIMEOUT)
        return Ran(shlex.join(args), done.returncode, done.stdout, done.stderr)

    yield run, tmp_path / "data"
    run(["sco-etl", "server", "stop"])  # whatever happened, no server is left behind


def rate_shown(output: str, country: str) -> str:
    """The Rate cell of a country's row in a `sco-etl board` table."""
    row = next(line for line in output.splitlines() if line.startswith(f"│ {country} "))
    return [cell.strip() for cell in row.split("│")[1:-1]][5]


def in_force(history, cbr_id: str, day: dt.date) -> Decimal:
    values = history.values[cbr_id]
    return values[max(d for d in values if d <= day)][1]


def expectations(data: Path, history) -> dict[str, Callable[[Ran], None]]:
    """What each command of the block must print."""
    today = moscow_today()

    def catch_up(ran: Ran) -> None:
        match = re.match(r"rates (\S+)\.\.(\S+): (\d+) new, 0 revised, \d+ unchanged, "
                         r"0 rejected \((\d+) requests\)", ran.out)
        assert match and int(match[3]) > 0, ran.out
        assert match[2] == str(moscow_tomorrow())
        assert "started a sco-etl server at http://127.0.0.1:" in ran.err

    def board_today(ran: Ran) -> None:
        assert f"as of {today} —" in ran.out
        assert rate_shown(ran.out, "China") == f"{in_force(history, 'R01375', today):.4f}"

    def backfill(ran: Ran) -> None:
        assert ran.out.startswith("rates 2025-03-25..2025-04-05: ") and "0 rejected" in ran.out

    def board_april(ran: Ran) -> None:
        assert "as of 2025-04-01 —" in ran.out
        assert rate_shown(ran.out, "China") == "11.7136"  # the recorded CBR document
        assert rate_shown(ran.out, "Kazakhstan") == "16.9831"

    def typo(ran: Ran) -> None:
        assert ran.code == 2 and ran.out == ""
        (line,) = ran.err.strip().splitlines()
        assert line.startswith("error: --currencies XYZ: unknown currency code: give an SCO "
                               "currency (AED, AFN,")

    def news(ran: Ran) -> None:
        assert re.search(r"^news: 18 new, 0 updated, 0 rejected", ran.out, re.M), ran.out

    def search(ran: Ran) -> None:
        lines = ran.out.splitlines()
        assert lines[0].startswith("23.05.2011 10:00  ")  # Moscow time: UTC+4 in 2011
        assert lines[1].strip() == "Leonid Moiseev: World vests great hopes in SCO"

    def status(ran: Ran) -> None:
        assert "freshness rates: latest effective date " in ran.out and "— fresh" in ran.out
        assert re.search(r"^rates: 2025-03-25 \.\. \S+, \d+ rows", ran.out, re.M), ran.out
        assert "news sources" in ran.out

    def query(ran: Ran) -> None:
        rows = dict(line.split(",") for line in ran.out.splitlines())
        stored = Warehouse(data).read(RATES, where="char_code = 'CNY'")
        assert rows.pop("char_code") == "days" and rows["CNY"] == str(stored.num_rows)

    def page(ran: Ran) -> None:
        written = data / "site" / "2025-04-01" / "index.html"
        assert f"wrote {written}" in ran.out.replace("\n", "")
        html = written.read_text(encoding="utf-8")
        assert '<tr data-code="CNY">' in html and ">11.7136</td>" in html

    def catalog(ran: Ran) -> None:
        assert ran.out.startswith("-- Read by DuckDB 1.5.5 with its ducklake extension")
        assert f"ATTACH 'ducklake:sqlite:{data}/catalog.sqlite' AS sco (READ_ONLY" in ran.out

    def stop(ran: Ran) -> None:
        assert ran.out.startswith("stopped the sco-etl server at http://127.0.0.1:")

    return {
        "sco-etl rates": catch_up,
        "sco-etl board": board_today,
        "sco-etl rates --start 2025-03-25 --end 2025-04-05": backfill,
        "sco-etl board --date 2025-04-01": board_april,
        "sco-etl rates --currencies XYZ": typo,
        "sco-etl news": news,
        "sco-etl news search aspirants": search,
        "sco-etl status": status,
        "sco-etl query 'SELECT char_code, count(*) AS days FROM rates GROUP BY ALL ORDER BY 1' "
        "--format csv": query,
        "sco-etl page --date 2025-04-01": page,
        "sco-etl catalog": catalog,
        "sco-etl server stop": stop,
    }


def test_the_readme_first_hour_on_a_fresh_data_directory(newcomer, cbr_service):
    run, data = newcomer
    expected = expectations(data, cbr_service.history)
    commands = readme_commands()
    unknown = [shlex.join(args) for args in commands if shlex.join(args) not in expected]
    assert not unknown, f"the README's newcomer block has commands this test does not know: " \
                        f"{unknown}; add what each should print to `expectations`"
    for args in commands:
        ran = run(args)
        check = expected[ran.command]
        wanted = 2 if check.__name__ == "typo" else 0
        assert ran.code == wanted, f"{ran.command}: exit {ran.code}\n{ran.out}\n{ran.err}"
        assert "Traceback" not in ran.out + ran.err, f"{ran.command}:\n{ran.err}"
        check(ran)
    assert not (data.parent / "home" / "data").exists()  # nothing made where it was run from
