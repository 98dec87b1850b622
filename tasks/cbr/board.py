"""The day's SCO currencies/ruble board as a markdown artifact of each rates run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from sco_etl.warehouse import Warehouse, reports

ARTIFACT_KEY = "rates-board"
RIGHT_ALIGNED = {"nominal", "value"}


def board_markdown(rows: pa.Table, day: dt.date | None) -> str:
    """The board as a markdown table, titled with the effective date it shows."""
    if day is None:
        return "### SCO currencies / ruble\n\nNo rates stored yet.\n"
    names = [name for name in reports.BOARD_HEADERS if name in rows.column_names]
    lines = [
        f"### SCO currencies / ruble, effective {day}",
        "",
        "Official rates of the Bank of Russia: rubles per *Den.* units.",
        "",
        "| " + " | ".join(reports.BOARD_HEADERS[name] for name in names) + " |",
        "|" + "|".join("---:" if name in RIGHT_ALIGNED else "---" for name in names) + "|",
    ]
    for row in rows.to_pylist():
        lines.append("| " + " | ".join(_cell(row[name]) for name in names) + " |")
    return "\n".join(lines) + "\n"


def board_for(warehouse: Warehouse, day: dt.date | None = None) -> str:
    """The markdown board as of `day`, by default the newest effective date stored."""
    day = day or reports.latest_rate_date(warehouse)
    rows = reports.board_rows(warehouse, day) if day else pa.table({})
    return board_markdown(rows, day)


@task(name="publish-rates-board", cache_policy=NO_CACHE)
def publish_board(warehouse: Warehouse, day: dt.date | None = None) -> str:
    """Publish the board (artifact key `rates-board`, so the UI keeps its history by day)."""
    markdown = board_for(warehouse, day)
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=markdown,
                             description="SCO currencies / ruble: the day's CBR official rates")
    return markdown


def _cell(value: object) -> str:
    if value is None:
        return "—"  # the country's currency is not quoted by CBR
    if isinstance(value, Decimal):
        return format(value, "f")  # exactly as published, never through a float
    return str(value).replace("|", "\\|")
