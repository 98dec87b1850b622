"""The `sco-etl` command line."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from sco_etl.flows.cli import render, run_log
from sco_etl.flows.cli.common import (
    RUN,
    DateOption,
    KnownAtOption,
    _date,
    _fail,
    _moment,
    console,
    report_failure,
)
from sco_etl.flows.cli.news import news_app
from sco_etl.flows.cli.page import page
from sco_etl.flows.cli.rates import rates
from sco_etl.flows.cli.server import server_app, use_background_server
from sco_etl.flows.cli.web import web
from sco_etl.flows.config import resolve, resolve_data_dir
from sco_etl.schemas.clock import moscow_today
from sco_etl.schemas.errors import ScoEtlError

app = typer.Typer(help="Ingest CBR rates of SCO currencies and SCO news into Parquet + DuckDB.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(news_app, name="news")
app.add_typer(server_app, name="server")
app.command()(page)
app.command()(rates)
app.command()(web)


@app.callback()
def setup(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="show Prefect's log and tracebacks on the terminal")] = False,
) -> None:
    """Ingest CBR rates of SCO currencies and SCO news into Parquet + DuckDB."""
    # Before any command imports Prefect: its logging then goes to the run's log file.
    RUN.command = ctx.invoked_subcommand or "sco-etl"
    RUN.verbose = verbose
    RUN.log_file = run_log.start(resolve_data_dir(), RUN.command, verbose)


@app.command()
def board(date: DateOption = None, known_at: KnownAtOption = None) -> None:
    """The SCO currencies/ruble box as of a date (default: today, Moscow)."""
    from sco_etl.warehouse import reports

    day = _date(date) or moscow_today()
    moment = _moment(known_at)
    try:
        rows = reports.board_rows(resolve().warehouse(), day, known_at=moment)
    except ScoEtlError as error:
        _fail(error)
    known = f" (as known at {moment})" if moment else ""
    console.print(render.rich_table(
        rows, title=f"SCO currencies / ruble as of {day}{known} — official rate of the Bank "
                    "of Russia",
        headers=reports.BOARD_HEADERS,
    ))


@app.command()
def query(
    sql: str,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
    known_at: KnownAtOption = None,
) -> None:
    """Run a read-only SQL query over the warehouse tables and views."""
    from sco_etl.warehouse import run_query

    if format not in {"table", "csv", "json"}:
        _fail(ValueError(f"--format must be table, csv or json, not {format!r}"))
    try:
        rows = run_query(resolve().warehouse(), sql, known_at=_moment(known_at))
    except ScoEtlError as error:
        _fail(error)
    if format == "csv":
        sys.stdout.write(render.as_csv(rows))
    elif format == "json":
        sys.stdout.write(render.as_json(rows) + "\n")
    else:
        console.print(render.rich_table(rows))


@app.command()
def catalog() -> None:
    """Print the SQL a plain DuckDB client runs to attach the warehouse read-only."""
    from sco_etl.warehouse.lake import install_extensions

    config = resolve()
    try:
        install_extensions()  # so that any DuckDB client of this machine autoloads them
        config.warehouse().require()
    except ScoEtlError as error:
        _fail(error)
    for statement in config.lake.reader_statements():
        sys.stdout.write(statement + ";\n")


@app.command()
def changes(
    since: Annotated[str, typer.Option(help="ISO time: list what changed after it")],
    table: Annotated[str | None, typer.Option(help="list this table's changed rows")] = None,
) -> None:
    """What each table gained or changed since a moment (DuckLake's change feed)."""
    from sco_etl.warehouse import history

    moment = dt.datetime.fromisoformat(_moment(since))
    warehouse = resolve().warehouse()
    try:
        if table:
            console.print(render.rich_table(history.table_changes(warehouse, table, moment),
                                            title=f"{table}: changes since {moment}"))
            return
        console.print(render.rich_table(history.changes(warehouse, moment),
                                        title=f"rows changed since {moment}"))
        shown = history.snapshots(warehouse, moment).select(
            ["snapshot_id", "snapshot_time", "commit_message"])
        console.print(render.rich_table(shown, title="snapshots"))
    except ScoEtlError as error:
        _fail(error)


@app.command()
def maintain(
    retention_days: Annotated[float, typer.Option(
        help="keep time travel this many days back")] = 90,
) -> None:
    """Merge small files, expire snapshots past the retention, delete files no one needs."""
    use_background_server()
    from sco_etl.flows.maintain import maintain_warehouse

    try:
        done = maintain_warehouse(retention_days=retention_days)
    except ScoEtlError as error:
        _fail(error)
    console.print(f"[green]maintained:[/] {done['files_before']} → {done['files_after']} data "
                  f"files ({done['bytes_after'] // 1024} KB), {done['snapshots_expired']} "
                  f"snapshots expired, {done['files_deleted']} old and "
                  f"{done['orphans_deleted']} orphaned files deleted")


@app.command()
def export(target: Annotated[Path, typer.Argument(help="folder to write")]) -> None:
    """Write a plain hive-partitioned Parquet copy of the current snapshot."""
    from sco_etl.warehouse.export import export as export_lake

    try:
        counts = export_lake(resolve().warehouse(), target)
    except ScoEtlError as error:
        _fail(error)
    console.print(f"[green]exported to {target}:[/] " + ", ".join(
        f"{name} {rows}" for name, rows in counts.items()))


@app.command()
def status() -> None:
    """Freshness, row counts, gaps and the last loads."""
    from sco_etl.flows.cli.status import print_status

    try:
        print_status(console, resolve())
    except ScoEtlError as error:
        _fail(error)


@app.command()
def serve(
    deployment: Annotated[list[str] | None, typer.Option(
        "--deployment", "-d", help="only these (rates, news, freshness); default: all")] = None,
    cron: Annotated[str | None, typer.Option(
        help="replace the schedules with this cron expression (demos and tests)")] = None,
    interval: Annotated[float | None, typer.Option(
        help="replace the schedules with this interval in seconds (demos and tests)")] = None,
    timezone: Annotated[str | None, typer.Option(
        help="time zone of --cron, e.g. Europe/Moscow (default UTC)")] = None,
    limit: Annotated[int, typer.Option(help="flow runs at once")] = 2,
) -> None:
    """Run the deployments of prefect.yaml on their schedules, with the Prefect UI, until Ctrl-C.

    Against PREFECT_API_URL when set, else the `sco-etl server` when one runs, else a Prefect
    server of its own on 127.0.0.1 (port PREFECT_SERVER_API_PORT, else 4200 when free), its
    database under <data dir>/prefect/.
    """
    from sco_etl.flows.serve import serve as serve_deployments

    if cron and interval:
        _fail(ValueError("give --cron or --interval, not both"))
    try:
        serve_deployments(resolve().data_dir, deployment, cron=cron, interval=interval,
                          timezone=timezone, limit=limit, echo=console.print)
    except ScoEtlError as error:
        _fail(error)


@app.command()
def plot(
    currencies: Annotated[str | None, typer.Option(
        help="ISO codes, e.g. CNY,KZT,INR; default: the SCO members' currencies")] = None,
    start: DateOption = None,
    end: DateOption = None,
    per_unit: Annotated[bool, typer.Option(
        "--per-unit", help="rubles per one unit instead of an index (first day = 100)")] = False,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write")] = Path(
        "sco-rates.png"),
) -> None:
    """Draw CBR rates as a PNG: indexed to 100 on the first day (default), or --per-unit."""
    from sco_etl.flows.cli.plot import default_start, member_currency_codes, plot_rates

    today = moscow_today()
    codes = ([c.strip().upper() for c in currencies.split(",") if c.strip()] if currencies
             else member_currency_codes(today))
    try:
        chart = plot_rates(resolve().warehouse(), codes,
                           _date(start) or default_start(today), _date(end), per_unit, output)
    except ScoEtlError as error:
        _fail(error)
    kind = "rubles per unit" if chart.per_unit else "indexed, first day = 100"
    console.print(f"[green]wrote {chart.path}[/] ({chart.size // 1024} KB): "
                  f"{', '.join(chart.codes)}, {chart.start}..{chart.end}, {kind}")
    if chart.missing:
        console.print("[yellow]no rates stored for:[/] " + ", ".join(chart.missing))


def main() -> None:  # pragma: no cover - console script entry
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The temporary Prefect server a flow starts without PREFECT_API_URL gets 20 s by
    # default, too little on a busy two-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    try:
        app()
    except Exception as error:  # no command expected it: still a paragraph, not a traceback
        report_failure(error)
        sys.exit(1)
