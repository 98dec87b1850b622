"""The targets of issues 6, 11 and 19, judged against the benchmark figures (`benchmarks.run`)."""

from __future__ import annotations

import statistics

from benchmarks.settings import CLI_TARGETS, NEWS_TIMES_FLOOR, TARGETS


def targets(figures: dict) -> list[dict]:
    """Each target of the issue with what was measured and whether it was met."""
    out = []

    def add(name: str, measured, met: bool | None, shown: str | None = None) -> None:
        out.append({"target": name, "measured": shown if shown is not None else measured,
                    "met": met})

    backfill = {ms: s for ms, s in figures.get("backfill", {}).items() if "error" not in s}
    for ms, section in backfill.items():
        sco = section["sco_etl"]
        ids = max(sco["server"]["dynamic_ids"], 1)
        add(f"backfill at {ms} ms: <= {TARGETS['backfill_requests_per_id']} HTTP requests per "
            "currency ID", sco["requests"] / ids,
            sco["requests"] / ids <= TARGETS["backfill_requests_per_id"],
            f"{sco['requests']} requests / {ids} IDs = {sco['requests'] / ids:.2f}")
        add(f"backfill at {ms} ms: <= {TARGETS['backfill_task_runs']} Prefect task runs",
            sco["task_runs"], sco["task_runs"] <= TARGETS["backfill_task_runs"])
        rss = peak_rss(sco)
        add(f"backfill at {ms} ms: peak RSS < {TARGETS['backfill_peak_rss_mb']:.0f} MB",
            rss, rss < TARGETS["backfill_peak_rss_mb"], f"{rss:.0f} MB (flow process)")
    if "50" in backfill:
        section = backfill["50"]
        speed = section["peer"]["scaled_seconds"] / section["sco_etl"]["seconds"]
        goal = TARGETS["backfill_speedup_at_50ms"]
        add(f"backfill at 50 ms: >= {goal:.0f}x faster than the peer (flow, Prefect running)",
            speed, speed >= goal, f"{speed:.1f}x")
        if "seconds" in section.get("cli_temporary", {}):
            speed = section["peer"]["scaled_seconds"] / section["cli_temporary"]["seconds"]
            add(f"backfill at 50 ms: >= {goal:.0f}x faster than the peer (plain CLI, "
                "temporary Prefect server included)", speed, speed >= goal, f"{speed:.1f}x")
    if "0" in backfill:
        work = backfill["0"]["sco_etl"]["seconds"]
        goal = TARGETS["backfill_work_seconds_loopback"]
        add(f"backfill on loopback: own work < {goal:.0f} s (Prefect server already running)",
            work, work < goal, f"{work:.1f} s")
    catchup = figures.get("catchup", {})
    for ms, stores in catchup.get("latencies", {}).items():  # none when the section failed
        small, large = catchup_pair(stores)
        ratio = median(large, "seconds") / median(small, "seconds")
        add(f"catch-up at {ms} ms: cost ratio {years_label(stores)} <= {TARGETS['catchup_ratio']}",
            ratio, ratio <= TARGETS["catchup_ratio"], f"{ratio:.2f} (wall time)")
        only = only_changed(catchup, stores)
        add(f"catch-up at {ms} ms: only changed partitions rewritten", only, only,
            "yes" if only else f"no: {rewritten(stores)}")
    queries = figures.get("queries", {}).get("queries", {})
    for name, query in queries.items():
        goal = TARGETS["query_speedup"]
        add(f"query {name}: >= {goal:.0f}x faster than pandas", query["speedup"],
            query["speedup"] >= goal, f"{query['speedup']:.1f}x vs tuned pandas "
            f"({query['duckdb_ms']:.0f} ms vs {query['pandas_ms']:.0f} ms); "
            f"{query['speedup_vs_defaults']:.1f}x vs pandas defaults")
    if "monthly_average" in queries:
        ms = queries["monthly_average"]["duckdb_ms"]
        goal = TARGETS["monthly_average_ms"]
        add(f"monthly average over all history < {goal:.0f} ms", ms, ms < goal, f"{ms:.0f} ms")
    news = figures.get("news", {})
    if news.get("status") == "measured":
        goal = NEWS_TIMES_FLOOR
        add(f"news: {news['sources']} sources × {news['items']} items, a tenth changed, "
            f"<= {goal} × the politeness floor", news["times_floor"],
            news["times_floor"] <= goal,
            f"{news['median_seconds']:.2f} s, floor {news['floor_seconds']:.2f} s "
            f"({news['times_floor']:.2f}×)")
    elif news:
        add("news section", None, None,
            f"{news.get('status', 'not measured')}: {news.get('reason') or news.get('error')}")
    recheck = catchup.get("recheck_requests")
    if recheck is not None and catchup.get("latencies"):
        stores = next(iter(catchup["latencies"].values()))
        made = max(median(runs, "requests") for runs in catchup_pair(stores))
        goal = CLI_TARGETS["catchup_new_requests"]
        add(f"issue 19: requests of an ordinary daily catch-up <= {goal} + the re-check", made,
            made <= goal + recheck, f"{made:.0f} ({recheck} of them the re-check of the last "
            "7 days)")
    for target in cli_targets(figures):
        add(*target)
    return out


def cli_targets(figures: dict) -> list[tuple[str, object, bool | None, str]]:
    """Issue 11's table: (target, measured, met, shown) for each figure that was measured."""
    goals, out = CLI_TARGETS, []
    at_50 = figures.get("backfill", {}).get("50", {})
    if "sco_etl" in at_50:
        work, peer = at_50["sco_etl"]["seconds"], at_50["peer"]["scaled_seconds"]
        goal = goals["backfill_work_seconds_at_50ms"]
        out.append((f"issue 11: backfill at 50 ms, flow under a running server <= {goal:.0f} s",
                    work, work <= goal, f"{work:.2f} s"))
        goal = goals["flow_speedup_at_50ms"]
        out.append((f"issue 11: same vs cbrf at 50 ms >= {goal:.0f}x", peer / work,
                    peer / work >= goal, f"{peer / work:.1f}x"))
        cli = at_50.get("cli", {}).get("seconds")
        if cli:
            goal = goals["cli_speedup_at_50ms"]
            out.append((f"issue 11: plain CLI backfill vs cbrf at 50 ms >= {goal:.0f}x",
                        peer / cli, peer / cli >= goal, f"{peer / cli:.1f}x"))
    section = figures.get("cli", {})
    if "catchup_with_server_seconds" in section:
        seconds, goal = section["catchup_with_server_seconds"], goals[
            "catchup_with_server_seconds"]
        out.append((f"issue 11: daily catch-up via CLI, `sco-etl server` running <= {goal:.0f} s",
                    seconds, seconds <= goal, f"{seconds:.2f} s"))
        out.extend(command_line_targets(section))
        failed, goal = section["failed_run"], goals["failed_run_lines"]
        ok = failed["lines"] <= goal and not failed["traceback"] and failed["exit_code"] == 1
        out.append((f"issue 11: failed run with no network <= {goal} lines, no traceback, exit 1",
                    failed["lines"], ok, f"{failed['lines']} lines, exit {failed['exit_code']}, "
                    f"traceback: {'yes' if failed['traceback'] else 'no'}"))
    out.extend(backfill_targets(figures))
    return out


def backfill_targets(figures: dict) -> list[tuple[str, object, bool | None, str]]:
    """Issue 19's backfill figures: the plain command against the peer, its memory."""
    goals, out = CLI_TARGETS, []
    at_50 = figures.get("backfill", {}).get("50", {})
    cli = at_50.get("cli", {})
    if "seconds" in cli and "peer" in at_50:
        speed, goal = at_50["peer"]["scaled_seconds"] / cli["seconds"], goals[
            "cli_backfill_speedup_at_50ms"]
        out.append((f"issue 19: plain CLI full backfill (starts the server) vs cbrf at 50 ms "
                    f">= {goal:.0f}x", speed, speed >= goal,
                    f"{speed:.1f}x ({cli['seconds']:.2f} s)"))
    trees = [s["cli"] for s in figures.get("backfill", {}).values()
             if "peak_tree_rss_mb" in s.get("cli", {})]
    if trees:
        tree = max(c["peak_tree_rss_mb"] for c in trees)
        detached = max(c.get("peak_detached_rss_mb", 0.0) for c in trees)
        goal = goals["backfill_tree_rss_mb"]
        out.append((f"issue 19: peak RSS of a CLI full backfill, process tree <= {goal:.0f} MB",
                    tree, tree <= goal, f"{tree:.0f} MB (the background server it started, "
                    f"which outlives it: {detached:.0f} MB more)"))
    return out


def command_line_targets(section: dict) -> list[tuple[str, object, bool | None, str]]:
    """Issue 19's command-line figures: (target, measured, met, shown)."""
    goals, out = CLI_TARGETS, []
    if "catchup_first_of_day_seconds" not in section:
        return out
    warm, cold = section["catchup_with_server_seconds"], section["catchup_first_of_day_seconds"]
    goal, ratio = goals["catchup_warm_seconds"], goals["catchup_warm_to_cold"]
    out.append((f"issue 19: daily catch-up, server running <= {goal:.0f} s and <= {ratio} x "
                "the first of the day", warm, warm <= goal and warm <= ratio * cold,
                f"{warm:.2f} s, {warm / cold:.2f} x"))
    goal = goals["catchup_first_of_day_seconds"]
    out.append((f"issue 19: daily catch-up, first of the day (starts the server) <= {goal:.0f} s",
                cold, cold <= goal, f"{cold:.2f} s"))
    goal, seconds = goals["help_seconds"], section["help_seconds"]
    out.append((f"issue 19: `sco-etl --help` < {goal} s", seconds, seconds < goal,
                f"{seconds:.2f} s"))
    error, goal = section["input_error"], goals["input_error_seconds"]
    ok = error["seconds"] < goal and error["exit_codes"] == [2] and not error["created_anything"]
    out.append((f"issue 19: an input error < {goal:.0f} s, exit 2, nothing started or made",
                error["seconds"], ok, f"{error['seconds']:.2f} s, exit {error['exit_codes']}, "
                f"{'made files' if error['created_anything'] else 'nothing made'}"))
    return out


def catchup_pair(stores: dict) -> tuple[list[dict], list[dict]]:
    years = sorted(stores, key=int)
    return stores[years[0]]["runs"], stores[years[-1]]["runs"]


def years_label(stores: dict) -> str:
    years = sorted(stores, key=int)
    return f"{years[-1]}y/{years[0]}y"


def rewritten(stores: dict) -> list[str]:
    return sorted({p for store in stores.values() for run in store["runs"]
                   for p in run["rates_partitions_rewritten"]})


def only_changed(catchup: dict, stores: dict) -> bool:
    return set(rewritten(stores)) <= set(catchup["expected_partitions"]) and all(
        run["rows_written"] > 0 for store in stores.values() for run in store["runs"])


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def peak_rss(result: dict) -> float:
    process = result.get("process")
    return process["peak_rss_mb"] if process else result["peak_rss_mb"]
