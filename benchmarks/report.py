"""The figures as a table, and the targets of issues 6 and 11 judged against them.

The targets are judged in `benchmarks.targets`; `render` shows them under the tables.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.targets import catchup_pair, median, only_changed, peak_rss, targets, years_label

SECTIONS = ("backfill", "catchup", "queries", "news", "cli")


def render(figures: dict) -> str:
    """The whole table as plain text (also pasted into docs/PERFORMANCE.md)."""
    lines = [_heading(figures), ""]
    lines += _backfill(figures)
    lines += ["", *_catchup(figures)]
    lines += ["", *_queries(figures)]
    lines += ["", *_news(figures)]
    lines += ["", *_cli_section(figures)]
    lines += ["", "Targets"]
    for target in figures.get("targets") or targets(figures):
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[target["met"]]
        lines.append(f"  [{mark}] {target['target']}: {target['measured']}")
    return "\n".join(lines)


DOCS_BEGIN = "<!-- benchmarks.run --update-docs: begin -->"
DOCS_END = "<!-- benchmarks.run --update-docs: end -->"


def update_docs(path: Path, table: str, figures: dict) -> None:
    """Put the table, when and where it was measured, between the markers of `path`."""
    text = path.read_text()
    head, rest = text.split(DOCS_BEGIN, 1)
    tail = rest.split(DOCS_END, 1)[1]
    m, load = figures["machine"], figures.get("load_average", {})
    when = figures["started_at"].replace("T", " at ").replace("+00:00", " UTC")
    where = (f"Run on {when}: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, "
             f"Python {m['python']}, Prefect {m['prefect']}, DuckDB {m['duckdb']}")
    if load:
        where += (f"; 1-minute load average during the run: min {load['min']:.1f}, "
                  f"mean {load['mean']:.1f}, max {load['max']:.1f}")
    path.write_text(f"{head}{DOCS_BEGIN}\n```\n{table}\n```\n\n{where}.\n{DOCS_END}{tail}")


def _heading(figures: dict) -> str:
    m, load = figures["machine"], figures.get("load_average", {})
    history = figures.get("history", {})
    text = (f"sco-etl benchmarks ({figures['profile']} profile, {figures.get('mode')}) — "
            f"history {history.get('first')}..{history.get('last')}, "
            f"{history.get('currency_ids')} CBR currency IDs served\n"
            f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gb']} GB RAM, "
            f"Python {m['python']}, Prefect {m['prefect']}, DuckDB {m['duckdb']}, "
            f"pandas {m['pandas']}")
    if load:
        text += (f"\nload average (1 min) during the run: min {load['min']:.1f}, "
                 f"mean {load['mean']:.1f}, max {load['max']:.1f}")
    if "prefect_server_startup_seconds" in figures:
        text += (f"\nPrefect server start (once, for the suite): "
                 f"{figures['prefect_server_startup_seconds']:.1f} s")
    return text


def _table(title: str, columns: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    width = max([len(label) for label, _ in rows] + [len(title)]) + 2
    cells = [max([len(c)] + [len(values[i]) for _, values in rows]) + 2
             for i, c in enumerate(columns)]
    lines = [title.ljust(width) + "".join(c.rjust(w) for c, w in zip(columns, cells, strict=True))]
    for label, values in rows:
        lines.append(("  " + label).ljust(width)
                     + "".join(v.rjust(w) for v, w in zip(values, cells, strict=True)))
    return lines


def _backfill(figures: dict) -> list[str]:
    backfill = {ms: s for ms, s in figures.get("backfill", {}).items() if "error" not in s}
    failed = [f"  at {ms} ms: not measured — {s['error']}"
              for ms, s in figures.get("backfill", {}).items() if "error" in s]
    if not backfill:
        return ["1. Full-history backfill: not measured", *failed]
    latencies = list(backfill)
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell) -> None:
        rows.append((label, [cell(backfill[ms]) for ms in latencies]))

    def task(name):
        return lambda s: _s(s["sco_etl"]["task_seconds"].get(name))

    tasks = list(dict.fromkeys(name for section in backfill.values()
                               for name in section["sco_etl"]["task_seconds"]))
    counts = {name: n for section in backfill.values()
              for name, n in section["sco_etl"].get("task_counts", {}).items()}

    row("sco-etl flow, Prefect server running (s)", lambda s: _s(s["sco_etl"]["seconds"]))
    row("  CPU time of the flow process (s)", lambda s: _s(s["sco_etl"].get("cpu_seconds")))
    for name in tasks:
        runs = f" ×{counts[name]}, first start to last end" if counts.get(name, 1) > 1 else ""
        row(f"  task {name}{runs} (s)", task(name))
    row("  flow overhead outside tasks (s)",
        lambda s: _s(s["sco_etl"]["seconds"] - s["sco_etl"]["tasks_total_seconds"]))
    row("sco-etl CLI, no server running: starts it (s)", lambda s: _s(_cli(s)))
    row("  Prefect fixed start-up = CLI - flow (s)", lambda s: _s(
        _cli(s) - s["sco_etl"]["seconds"]) if _cli(s) else "-")
    row("sco-etl CLI, temporary Prefect server (s)", lambda s: _s(_cli(s, "cli_temporary")))
    row("  import of the flow module (s)", lambda s: _s(s["sco_etl"].get("import_seconds")))
    row("HTTP requests (dynamic IDs)", lambda s: f"{s['sco_etl']['requests']} "
        f"({s['sco_etl']['server']['dynamic_ids']})")
    row("Prefect task runs", lambda s: str(s["sco_etl"]["task_runs"]))
    row("rows written", lambda s: f"{s['sco_etl']['rows_written']:,}")
    row("peak RSS, flow process (MB)", lambda s: _mb(peak_rss(s["sco_etl"])))
    row("peak RSS, CLI process / tree (MB)", lambda s: (
        f"{s['cli']['peak_rss_mb']:.0f} / {s['cli']['peak_tree_rss_mb']:.0f}" if _cli(s)
        else "-"))
    row("  and the background server it started (MB)",
        lambda s: _mb(s["cli"].get("peak_detached_rss_mb")) if _cli(s) else "-")
    row("  with the temporary server: process / tree (MB)", lambda s: (
        f"{s['cli_temporary']['peak_rss_mb']:.0f} / "
        f"{s['cli_temporary']['peak_tree_rss_mb']:.0f}" if _cli(s, "cli_temporary") else "-"))
    row("peer cbrf day by day, whole history (s)", lambda s: _s(s["peer"]["scaled_seconds"]))
    row("  timed on a slice of N days (s / N)", lambda s: (
        f"{s['peer']['seconds']:.1f} / {s['peer']['requests']}"))
    row("  CPU time in the slice (s)", lambda s: _s(s["peer"].get("cpu_seconds")))
    row("  requests, whole history", lambda s: f"{s['peer']['full_requests']:,}")
    row("  rows written in the slice", lambda s: f"{s['peer']['rows']:,}")
    row("  peak RSS, peer process (MB)", lambda s: _mb(peak_rss(s["peer"])))
    row("ratio peer / sco-etl flow", lambda s: _x(s["peer"]["scaled_seconds"]
                                                  / s["sco_etl"]["seconds"]))
    row("ratio peer / sco-etl CLI", lambda s: _x(
        s["peer"]["scaled_seconds"] / _cli(s)) if _cli(s) else "-")
    row("ratio peer / sco-etl CLI, temporary server", lambda s: _x(
        s["peer"]["scaled_seconds"] / _cli(s, "cli_temporary")) if _cli(s, "cli_temporary")
        else "-")
    if "sco_etl_no_interval" in backfill.get("0", {}):
        free = backfill["0"]["sco_etl_no_interval"]
        rows.append(("flow with SCO_ETL_REQUEST_INTERVAL=0 (s)",
                     [_s(free["seconds"]) if ms == "0" else "-" for ms in latencies]))
        fetch = "fetch-cbr-documents"
        paced = backfill["0"]["sco_etl"]["task_seconds"].get(fetch, 0.0)
        rows.append(("  fetch task without / with the interval (s)",
                     [f"{free['task_seconds'].get(fetch, 0.0):.2f} / {paced:.2f}" if ms == "0"
                      else "-" for ms in latencies]))
    return [*_table("1. Full-history backfill", [f"{ms} ms" for ms in latencies], rows), *failed]


def _catchup(figures: dict) -> list[str]:
    catchup = figures.get("catchup", {})
    if not catchup or "error" in catchup:
        return [f"2. Daily catch-up: not measured — {catchup.get('error', 'not run')}"]
    latencies = list(catchup["latencies"])
    stores = catchup["stores"]
    years = sorted(stores, key=int)
    columns = [f"{y}y @ {ms} ms" for ms in latencies for y in years]
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell) -> None:
        rows.append((label, [cell(catchup["latencies"][ms][y]["runs"])
                             for ms in latencies for y in years]))

    rows.append(("history stored (rows)", [f"{stores[y]['rows']:,}"
                                           for _ in latencies for y in years]))
    row("wall time, median (s)", lambda runs: _s(median(runs, "seconds")))
    row("  CPU time of the process (s)", lambda runs: _s(median(runs, "cpu_seconds")))
    row("  tasks other than fetching (s)", lambda runs: _s(statistics.median(
        r["tasks_total_seconds"] - r["task_seconds"].get("fetch-cbr-documents", 0)
        for r in runs)))
    row("HTTP requests", lambda runs: str(runs[0]["requests"]))
    row("rows written", lambda runs: str(runs[0]["rows_written"]))
    row("Parquet bytes written", lambda runs: f"{median(runs, 'bytes_changed'):,.0f}")
    row("catalog (catalog.sqlite) bytes", lambda runs: f"{median(runs, 'catalog_bytes'):,.0f}")
    row("files written", lambda runs: str(len(runs[0]["files_changed"])))
    row("rates partitions rewritten", lambda runs: ",".join(
        p.split("=")[-1] for p in runs[0]["rates_partitions_rewritten"]) or "none")
    lines = _table("2. Daily catch-up", columns, rows)
    for ms in latencies:
        stores = catchup["latencies"][ms]
        small, large = catchup_pair(stores)
        wall = median(large, "seconds") / median(small, "seconds")
        cpu = median(large, "cpu_seconds") / median(small, "cpu_seconds")
        written = median(large, "bytes_changed") / max(median(small, "bytes_changed"), 1)
        only = "yes" if only_changed(catchup, stores) else "no"
        lines.append(f"  ratio {years_label(stores)} at {ms} ms: wall {wall:.2f}, CPU {cpu:.2f}, "
                     f"bytes {written:.2f}; only changed partitions rewritten: {only}")
    return lines


def _queries(figures: dict) -> list[str]:
    queries = figures.get("queries", {}).get("queries", {})
    if not queries:
        return [f"3. Queries: not measured — {figures.get('queries', {}).get('error', 'not run')}"]
    rows = [(q["description"], [
        f"{q['duckdb_ms']:.0f}", f"{q['duckdb_cpu_ms']:.0f}",
        f"{q['pandas_ms']:.0f}", f"{q['pandas_cpu_ms']:.0f}", _x(q["speedup"]),
        _x(q["speedup_cpu"]), f"{q['pandas_defaults_ms']:.0f}", _x(q["speedup_vs_defaults"]),
        f"{q['duckdb_fresh_connection_ms']:.0f}",
        f"{q['duckdb_rows']}" + ("" if q["same_answer"] else " DIFFERENT")])
        for q in queries.values()]
    title = f"3. Queries, median of {figures['queries']['runs']} (ms)"
    columns = ["DuckDB", "cpu", "pandas", "cpu", "ratio", "cpu ratio", "pd defaults", "ratio",
               "run_query", "rows, same"]
    return [
        *_table(title, columns, rows),
        "  DuckDB: one read-only connection (warehouse.connect_read_only), the views of "
        "the lake; run_query: a new connection per query, as `sco-etl query` does.",
        "  pandas: only the needed columns, filters in the read, Arrow dtypes; pd defaults: "
        "pd.read_parquet(rates dir) with default dtypes, then filter. cpu: process CPU time."]


def _news(figures: dict) -> list[str]:
    news = figures.get("news", {})
    if news.get("status") != "measured":
        why = news.get("reason") or news.get("error") or ""
        return [f"4. News: {news.get('status', 'not measured')} — {why}"]
    rows = [
        (f"{news['sources']} sources × {news['items']} items, {news['changed_sources']} "
         "changed a round", ""),
        ("  a round, median (s)", _s(news["median_seconds"])),
        ("  requests a round", f"{news['requests']:.0f}"),
        ("  politeness floor: requests × interval (s)", _s(news["floor_seconds"])),
        ("  times the floor", f"{news['times_floor']:.2f}"),
        ("  loading the sources first, unpaced (s)", _s(news["setup_seconds"])),
    ]
    return _table("4. News", ["value"], [(label, [value]) for label, value in rows])


def _cli_section(figures: dict) -> list[str]:
    cli = figures.get("cli", {})
    if "catchup_with_server_seconds" not in cli:
        return [f"5. Command line: not measured — {cli.get('error', 'not run')}"]
    failed = cli["failed_run"]
    rss = cli["catchup_tree_rss_mb"]
    background = cli.get("catchup_background_rss_mb", {})
    rows = [
        (f"daily catch-up `sco-etl rates`, median of {cli['rounds']}", ""),
        ("  with `sco-etl server` running (s)", _s(cli["catchup_with_server_seconds"])),
        ("  first of the day: starts the server (s)",
         _s(cli.get("catchup_first_of_day_seconds"))),
        ("  its server start, overlapping the imports (s)", _s(cli.get("auto_start_seconds"))),
        ("  no background server: temporary Prefect server (s)",
         _s(cli["catchup_without_server_seconds"])),
        ("  peak RSS, process tree warm / first / temporary (MB)",
         " / ".join(_mb(rss.get(kind)) for kind in ("with_server", "first_of_day",
                                                    "without_server"))),
        ("  peak RSS, the background server warm / first (MB)",
         " / ".join(_mb(background.get(kind)) for kind in ("with_server", "first_of_day"))),
        ("  HTTP requests", str(cli.get("catchup_requests", "-"))),
        ("`sco-etl --help`, median (s)", _s(cli.get("help_seconds"))),
        ("`sco-etl rates --currencies XYZ`: exit 2 at once (s)",
         _s(cli.get("input_error", {}).get("seconds"))),
        ("`sco-etl server start`, new database / later (s)",
         f"{cli['server_start_first_seconds']:.2f} / {cli['server_start_seconds']:.2f}"),
        ("`sco-etl server stop` (s)", _s(cli["server_stop_seconds"])),
        ("failed `sco-etl rates`, CBR unreachable (DNS)", ""),
        ("  lines on the terminal", str(failed["lines"])),
        ("  exit status / traceback shown",
         f"{failed['exit_code']} / {'yes' if failed['traceback'] else 'no'}"),
        ("  wall time (s)", _s(failed["seconds"])),
    ]
    lines = _table("5. Command line", ["value"], [(label, [value]) for label, value in rows])
    return [*lines, "  what it printed:", *(f"    | {line}" for line in failed["output"])]


def _cli(section: dict, kind: str = "cli") -> float | None:
    """The CLI's wall time, None when it was not run or failed (the error is in the JSON)."""
    return section.get(kind, {}).get("seconds")


def _s(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _mb(value) -> str:
    return "-" if value is None else f"{value:.0f}"


def _x(value: float) -> str:
    return f"{value:.1f}x"
