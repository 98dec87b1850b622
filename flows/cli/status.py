"""`sco-etl status`: what the warehouse holds, how fresh it is, what is missing.

Printed for people as lines and tables that fit the terminal, or as one JSON document of the
same sections (`--format json`).
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
from rich.console import Console

from sco_etl.flows.background_server import describe, prefect_home
from sco_etl.flows.cli import render
from sco_etl.flows.cli.common import Format
from sco_etl.flows.config import Config, auto_server
from sco_etl.schemas.clock import MOSCOW, utc_now
from sco_etl.schemas.news import FEED_STATE
from sco_etl.tasks import freshness
from sco_etl.tasks.cbr.calendar import missing_publication_dates
from sco_etl.warehouse import Warehouse, reports
from sco_etl.warehouse.lake import redacted

SHOWN_GAPS = 10
LOAD_COLUMNS = ("started_at", "flow", "status", "rows_written", "rows_rejected", "message")


def print_status(console: Console, config: Config, format: Format = Format.table) -> None:
    warehouse = config.warehouse()
    status = reports.warehouse_status(warehouse)
    checks, sources = freshness_checks(warehouse), news_table(warehouse)
    dates = status.rate_dates
    first, latest = (dates[0], dates[-1]) if dates else (None, None)
    gaps = (missing_publication_dates(set(dates), first, latest, status.unpublished_dates)
            if dates else [])
    loads = pa.Table.from_pylist([{k: row[k] for k in LOAD_COLUMNS}
                                  for row in status.recent_loads])
    counts = pa.table({"table": list(status.row_counts),
                       "rows": list(status.row_counts.values())})
    if format == Format.json:
        document = {
            "data_dir": str(config.data_dir),
            "catalog": redacted(config.lake.catalog), "data_path": config.lake.data_path,
            "snapshot": {"id": status.snapshot_id,
                         "time": render.json_value(status.snapshot_time)},
            "prefect_server": prefect_server(config),
            "freshness": checks,
            "rates": {"first": render.json_value(first), "latest": render.json_value(latest),
                      "rows": status.row_counts.get("rates", 0),
                      "gaps": [d.isoformat() for d in gaps]},
            "rows_per_table": status.row_counts,
            "news_sources": json.loads(render.as_json(sources)),
            "last_loads": json.loads(render.as_json(loads)),
        }
        console.file.write(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
        return
    console.print(f"[bold]data directory[/] {config.data_dir}", soft_wrap=True)
    console.print(f"[bold]warehouse[/] {redacted(config.lake.catalog)} → {config.lake.data_path}"
                  f" (snapshot {status.snapshot_id} of {status.snapshot_time:%Y-%m-%d %H:%M:%S %Z};"
                  " `sco-etl catalog` prints how to attach it)", soft_wrap=True)
    console.print(f"[bold]prefect server[/] {prefect_server(config)}", soft_wrap=True)
    for check in checks:
        colour = "red" if check["late"] else "green"
        console.print(f"freshness [{colour}]{check['subject']}[/]: {check['stored']} — "
                      f"{check['status']}")
    if latest is None:
        console.print("rates: none yet — run `sco-etl rates` (or `--start 1992-07-01`)")
    else:
        console.print(f"rates: {first} .. {latest}, "
                      f"{status.row_counts['rates']} rows, {len(gaps)} gaps")
        if gaps:
            console.print("  missing: " + ", ".join(str(d) for d in gaps[:SHOWN_GAPS])
                          + (" …" if len(gaps) > SHOWN_GAPS else ""))
    render.print_rows(console, counts, title="rows per table")
    if sources.num_rows:
        render.print_rows(console, sources, title="news sources")
    else:
        console.print("news: none yet — run `sco-etl news` (or `--feed URL`)")
    if status.recent_loads:
        shown = loads.set_column(0, "started (MSK)", pa.array(
            [f"{row['started_at'].astimezone(MOSCOW):%d.%m.%Y %H:%M}"
             for row in status.recent_loads]))
        render.print_rows(console, shown, title="last loads")


def print_no_warehouse(console: Console, config: Config, message: str,
                       format: Format = Format.table) -> None:
    """What status says before `sco-etl rates` made a warehouse: that, and where runs go."""
    server = prefect_server(config)
    if format == Format.json:
        console.file.write(json.dumps({"data_dir": str(config.data_dir), "warehouse": None,
                                       "message": message, "prefect_server": server},
                                      ensure_ascii=False, indent=1) + "\n")
        return
    console.print(message, highlight=False, soft_wrap=True)
    console.print(f"[bold]prefect server[/] {server}", soft_wrap=True)


def prefect_server(config: Config) -> str:
    """Where flow runs are recorded: a line of `describe`."""
    return describe(prefect_home(config.data_dir), auto_server())


def freshness_checks(warehouse: Warehouse) -> list[dict]:
    """Rates against the CBR calendar, each news source against its cadence."""
    report = freshness.assess(*freshness.observe(warehouse), utc_now())
    return [{"subject": check.subject, "stored": check.stored(),
             "status": check.status(report.now), "late": check.is_late}
            for check in report.checks]


NEWS_SOURCES = pa.schema([
    ("source", pa.string()), ("items", pa.int64()), ("latest (MSK)", pa.string()),
    ("last fetch", pa.string()), ("since (MSK)", pa.string()), ("message", pa.string()),
])


def news_table(warehouse: Warehouse) -> pa.Table:
    """Per news source: items, the newest headline (Moscow time), how its last fetch went,
    and its article pages that failed."""
    counts = {row["source"]: row for row in reports.news_per_source(warehouse)}
    states = {row["source"]: row for row in warehouse.read(FEED_STATE).to_pylist()}
    rows = []
    for source in sorted(set(counts) | set(states)):
        count, state = counts.get(source, {}), states.get(source, {})
        latest, since = count.get("latest_published_at"), state.get("status_since")
        message = state.get("message") or ""
        if count.get("article_errors"):
            message = "; ".join(filter(None, [message, (
                f"{count['article_errors']} article pages failing, latest: "
                f"{count['last_article_error']}")]))
        rows.append({
            "source": source, "items": count.get("items", 0),
            "latest (MSK)": _moscow_minute(latest), "last fetch": state.get("status", "never"),
            "since (MSK)": _moscow_minute(since), "message": message,
        })
    return pa.Table.from_pylist(rows, schema=NEWS_SOURCES)


def _moscow_minute(moment: dt.datetime | None) -> str:
    return f"{moment.astimezone(MOSCOW):%d.%m.%Y %H:%M}" if moment else ""
