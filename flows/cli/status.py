"""`sco-etl status`: what the warehouse holds, how fresh it is, what is missing."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from rich.console import Console

from sco_etl.flows.background_server import describe, prefect_home
from sco_etl.flows.cli import render
from sco_etl.flows.config import Config
from sco_etl.schemas.clock import MOSCOW, utc_now
from sco_etl.schemas.news import FEED_STATE
from sco_etl.tasks import freshness
from sco_etl.tasks.cbr.calendar import missing_publication_dates
from sco_etl.warehouse import Warehouse, reports
from sco_etl.warehouse.lake import redacted
from sco_etl.warehouse.status import warehouse_status

SHOWN_GAPS = 10


def print_status(console: Console, config: Config) -> None:
    status = warehouse_status(config.warehouse())
    console.print(f"[bold]data directory[/] {config.data_dir}")
    console.print(f"[bold]warehouse[/] {redacted(config.lake.catalog)} → {config.lake.data_path}"
                  f" (snapshot {status.snapshot_id} of {status.snapshot_time:%Y-%m-%d %H:%M:%S %Z};"
                  " `sco-etl catalog` prints how to attach it)")
    console.print(f"[bold]prefect server[/] {describe(prefect_home(config.data_dir))}",
                  soft_wrap=True)
    print_freshness(console, config.warehouse())
    if status.latest_rate_date is None:
        console.print("rates: none yet — run `sco-etl rates` (or `--start 1992-07-01`)")
    else:
        gaps = missing_publication_dates(status.rate_dates, status.first_rate_date,
                                         status.latest_rate_date, status.unpublished_dates)
        console.print(f"rates: {status.first_rate_date} .. {status.latest_rate_date}, "
                      f"{status.row_counts['rates']} rows, {len(gaps)} gaps")
        if gaps:
            console.print("  missing: " + ", ".join(str(d) for d in gaps[:SHOWN_GAPS])
                          + (" …" if len(gaps) > SHOWN_GAPS else ""))
    counts = pa.table({"table": list(status.row_counts),
                       "rows": list(status.row_counts.values())})
    console.print(render.rich_table(counts, title="rows per table"))
    print_news(console, config.warehouse())
    if status.recent_loads:
        loads = pa.Table.from_pylist([
            {k: row[k] for k in ("started_at", "flow", "status", "rows_written",
                                 "rows_rejected", "message")}
            for row in status.recent_loads
        ])
        console.print(render.rich_table(loads, title="last loads"))


def print_freshness(console: Console, warehouse: Warehouse) -> None:
    """Rates against the CBR calendar, each news source against its cadence: fresh or late."""
    activity = [freshness.SourceActivity(**row) for row in reports.news_activity(warehouse)]
    report = freshness.assess(freshness.StoredRates(**reports.stored_rates(warehouse)),
                              activity, utc_now())
    for check in report.checks:
        colour = "red" if check.is_late else "green"
        console.print(f"freshness [{colour}]{check.subject}[/]: {check.stored()} — "
                      f"{check.status(report.now)}")


def print_news(console: Console, warehouse: Warehouse) -> None:
    """Per news source: items, the newest headline (Moscow time), how its last fetch went,
    and its article pages that failed."""
    counts = {row["source"]: row for row in reports.news_per_source(warehouse)}
    states = {row["source"]: row for row in warehouse.read(FEED_STATE).to_pylist()}
    if not counts and not states:
        console.print("news: none yet — run `sco-etl news` (or `--feed URL`)")
        return
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
    console.print(render.rich_table(pa.Table.from_pylist(rows), title="news sources"))


def _moscow_minute(moment: dt.datetime | None) -> str:
    return f"{moment.astimezone(MOSCOW):%d.%m.%Y %H:%M}" if moment else ""
