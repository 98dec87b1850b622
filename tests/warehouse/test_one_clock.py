"""One clock: no SQL of sco-etl reads the host's clock or zone (issue 18).

DuckDB's `current_date`, `now()` and friends follow the host's time zone, while rates live on
Moscow's calendar: on a UTC host at 01:17 Moscow time they still say Sunday. Every "today"
comes from `sco_etl.schemas.clock` and reaches SQL as a parameter or the `sco_today` variable.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pytest

from sco_etl.schemas.clock import moscow_today, moscow_tomorrow
from sco_etl.warehouse import ddl

HOST_CLOCK = re.compile(
    r"\b(current_date|current_timestamp|current_time|now(?=\s*\()|today(?=\s*\()"
    r"|get_current_timestamp|get_current_time|localtimestamp|localtime|transaction_timestamp)\b",
    re.IGNORECASE)
SQL = re.compile(r"\b(SELECT|CREATE|SET|WITH|ATTACH)\b")
SOURCES = [
    Path(__file__).resolve().parents[2] / folder
    for folder in ("flows", "tasks", "schemas", "warehouse")]
# The one exception: what `sco-etl catalog` prints for a plain DuckDB client, which has no
# clock of ours to read; it names Moscow's zone explicitly.
PLAIN_CLIENT = ("warehouse/lake.py", "get_current_timestamp")


def test_the_lake_schema_reads_no_host_clock():
    for statement in ddl.schema_statements():
        assert not HOST_CLOCK.search(statement), statement


def test_no_source_reads_the_host_clock_in_sql():
    found = set()
    for folder in SOURCES:
        for path in folder.rglob("*.py"):
            for text in _sql_strings(path):
                found.update((f"{folder.name}/{path.relative_to(folder)}", match.lower())
                             for match in HOST_CLOCK.findall(text))
    assert found == {PLAIN_CLIENT}


def _sql_strings(path: Path) -> list[str]:
    """The string literals of a module that look like SQL (docstrings aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # an f-string: its literal parts, joined
            texts.append("".join(part.value for part in node.values
                                 if isinstance(part, ast.Constant)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            texts.append(node.value)
    return [text for text in texts if SQL.search(text)]


@pytest.mark.parametrize(("utc", "today"), [
    ("2026-11-29T22:17:00", "2026-11-30"),   # Sunday night UTC is Monday 01:17 in Moscow
    ("2026-11-29T20:59:59", "2026-11-29"),   # 23:59:59 Moscow
    ("2012-12-31T20:00:00", "2013-01-01"),   # UTC+4 then: midnight Moscow
    ("2012-12-31T19:59:59", "2012-12-31"),
])
def test_moscow_today_is_moscows_whatever_the_host(utc, today):
    moment = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    assert moscow_today(moment) == dt.date.fromisoformat(today)
    assert moscow_tomorrow(moment) == dt.date.fromisoformat(today) + dt.timedelta(days=1)
