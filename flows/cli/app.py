"""The `sco-etl` command line: the root app, and the commands that take a few lines each."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from sco_etl.flows.cli import run_log
from sco_etl.flows.cli.common import (
    EXIT_FAILED,
    RUN,
    Commands,
    Format,
    FormatOption,
    KnownAtOption,
    console,
    date_option,
    report_failure,
)
from sco_etl.flows.cli.news import news_app
from sco_etl.flows.cli.page import page
from sco_etl.flows.cli.rates import rates
from sco_etl.flows.cli.server import server_app, use_background_server
from sco_etl.flows.cli.web import web

WRITES = {"rates", "news", "maintain", "serve", "server"}
"""Commands that may create the data directory (and so its `logs/`)."""

app = Commands(help="Ingest CBR rates of SCO currencies and SCO news into Parquet + DuckDB.",
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
    from sco_etl.flows.config import resolve_data_dir

    # Before any command imports Prefect: its logging then goes to the run's log file.
    RUN.command = ctx.invoked_subcommand or "sco-etl"
    RUN.verbose = verbose
    folder = run_log.folder_for(resolve_data_dir(), writes=RUN.command in WRITES)
    RUN.log = run_log.start(folder, RUN.command, verbose)


@app.command()
def board(
    date: Annotated[str | None, date_option(
        "the day of the box (default: today, Moscow)")] = None,
    known_at: KnownAtOption = None,
    format: FormatOption = Format.table,
) -> None:
    """The SCO currencies/ruble box as of a date (default: today, Moscow)."""
    from sco_etl.flows.cli import inputs, render
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.schemas.clock import moscow_today
    from sco_etl.warehouse import api, reports

    day = inputs.day(date, "--date") or moscow_today()
    warehouse = resolve_warehouse()
    moment = inputs.known_at(known_at, warehouse)
    rows = api.open(warehouse, known_at=moment).board(day).to_arrow_table()
    if format == Format.table:  # the box as people read it: a status in words, no unit rate
        rows = render.as_words(rows.drop_columns(["unit_rate"]), "status")
    known = f" (as known at {moment})" if moment else ""
    render.print_rows(console, rows, format, headers=reports.BOARD_HEADERS,
                      title=f"SCO currencies / ruble as of {day}{known} — official rate of the "
                            "Bank of Russia")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="one SELECT (or EXPLAIN) over the tables and views; "
                                            "`SHOW TABLES` lists them")],
    format: FormatOption = Format.table,
    known_at: KnownAtOption = None,
) -> None:
    """Run a read-only SQL query over the warehouse tables and views."""
    from sco_etl.flows.cli import inputs, render
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.warehouse import run_query

    warehouse = resolve_warehouse()
    rows = run_query(warehouse, sql, known_at=inputs.known_at(known_at, warehouse))
    render.print_rows(console, rows, format)


@app.command()
def catalog() -> None:
    """Print the SQL a plain DuckDB client runs to attach the warehouse read-only."""
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.warehouse.lake import reader_versions

    warehouse = resolve_warehouse()
    warehouse.require()  # installs the extensions: a plain client then autoloads them
    for line in reader_versions(warehouse.lake).comments():
        sys.stdout.write(f"-- {line}\n")
    for statement in warehouse.lake.reader_statements():
        sys.stdout.write(statement + ";\n")


@app.command()
def changes(
    since: Annotated[str, typer.Option(
        metavar="TIME", help="list what changed after this moment: ISO time, e.g. "
                             "2025-04-01T00:00+03:00 (no zone: UTC)")],
    table: Annotated[str | None, typer.Option(
        help="list this table's changed rows (e.g. rates, news)")] = None,
    format: FormatOption = Format.table,
) -> None:
    """What each table gained or changed since a moment (DuckLake's change feed)."""
    from sco_etl.flows.cli import inputs, render
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.warehouse import api

    moment = inputs.moment(since, "--since")
    name = inputs.table_name(table)
    snapshot = api.open(resolve_warehouse())
    if name:
        render.print_rows(console, snapshot.table_changes(name, moment).to_arrow_table(),
                          format, title=f"{name}: changes since {moment}")
        return
    snapshots = snapshot.snapshots(moment).select("snapshot_id, snapshot_time, commit_message")
    render.print_sections(console, [
        (f"rows changed since {moment}", snapshot.changes(moment).to_arrow_table()),
        ("snapshots", snapshots.to_arrow_table())], format)


@app.command()
def maintain(
    retention_days: Annotated[float, typer.Option(
        min=0, help="keep time travel this many days back")] = 90,
) -> None:
    """Merge small files, expire snapshots past the retention, delete files no one needs."""
    from sco_etl.flows.config import resolve_warehouse

    resolve_warehouse().require()  # maintenance creates no warehouse
    use_background_server("sco_etl.flows.maintain")
    from sco_etl.flows.maintain import maintain_warehouse

    done = maintain_warehouse(retention_days=retention_days)
    console.print(f"[green]maintained:[/] {done['files_before']} → {done['files_after']} data "
                  f"files ({done['bytes_after'] // 1024} KB), {done['snapshots_expired']} "
                  f"snapshots expired, {done['files_deleted']} old and "
                  f"{done['orphans_deleted']} orphaned files deleted")


@app.command()
def export(target: Annotated[Path, typer.Argument(
        help="folder to write (replaced whole; its parent is created if missing)")]) -> None:
    """Write a plain hive-partitioned Parquet copy of the current snapshot."""
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.warehouse.export import export as export_lake

    counts = export_lake(resolve_warehouse(), target)
    console.print(f"[green]exported to {target}:[/] " + ", ".join(
        f"{name} {rows}" for name, rows in counts.items()))


@app.command()
def status(
    format: Annotated[Format, typer.Option(
        "--format", "-f", help="table (for people) or json (every section, for programs)"),
    ] = Format.table,
) -> None:
    """Freshness, row counts, gaps and the last loads."""
    from sco_etl.flows.cli.status import print_no_warehouse, print_status
    from sco_etl.flows.config import resolve
    from sco_etl.schemas.errors import InputError, NoWarehouseError

    if format == Format.csv:
        raise InputError("--format csv: status prints several tables; give table or json "
                         "(or `sco-etl query` for one table as CSV)")
    config = resolve()
    try:
        config.warehouse().require()
    except NoWarehouseError as error:  # an answer, not a failure
        print_no_warehouse(console, config, str(error), format)
        return
    print_status(console, config, format)


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
    limit: Annotated[int, typer.Option(min=1, help="flow runs at once")] = 2,
) -> None:
    """Run the deployments of prefect.yaml on their schedules, with the Prefect UI, until Ctrl-C.

    Against PREFECT_API_URL when set, else the `sco-etl server` when one runs, else a Prefect
    server of its own on 127.0.0.1 (port PREFECT_SERVER_API_PORT, else 4200 when free), its
    database under <data dir>/prefect/.
    """
    from sco_etl.flows.config import resolve
    from sco_etl.schemas.errors import InputError

    if cron and interval:
        raise InputError("give --cron or --interval, not both")
    from sco_etl.flows.serve import serve as serve_deployments

    serve_deployments(resolve().data_dir, deployment, cron=cron, interval=interval,
                      timezone=timezone, limit=limit, echo=console.print)


@app.command()
def plot(
    currencies: Annotated[str | None, typer.Option(
        metavar="CODES",
        help="ISO codes, e.g. CNY,KZT,INR; default: the SCO members' currencies")] = None,
    start: Annotated[str | None, date_option("first day (default: 5 years ago)")] = None,
    end: Annotated[str | None, date_option("last day (default: the latest stored)")] = None,
    per_unit: Annotated[bool, typer.Option(
        "--per-unit", help="rubles per one unit instead of an index (first day = 100)")] = False,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write")] = Path(
        "sco-rates.png"),
) -> None:
    """Draw CBR rates as a PNG: indexed to 100 on the first day (default), or --per-unit."""
    from sco_etl.flows.cli import inputs
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.schemas.clock import moscow_today
    from sco_etl.tasks.plot import default_start, member_currency_codes, plot_rates

    first, last = inputs.period(start, end)
    warehouse = resolve_warehouse()
    warehouse.require()
    today = moscow_today()
    codes = inputs.currency_codes(currencies, warehouse) or member_currency_codes(today)
    chart = plot_rates(warehouse, codes, first or default_start(today), last, per_unit, output)
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
        sys.exit(report_failure(error) or EXIT_FAILED)
