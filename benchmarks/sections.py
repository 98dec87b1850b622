"""The measured sections of the benchmark suite (`benchmarks.run`), and where their jobs run.

`Suite` runs each job in a fresh worker process (`benchmarks.worker`), or in this process with
`inline`. Section 1 is the full-history backfill at one latency (sco-etl's flow and CLI, and
the `cbrf` peer), section 2 the daily catch-up over a small and a large stored history.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.measure import child_env, run_child, run_worker
from benchmarks.servers import CachedCbr, PrefectServer
from benchmarks.settings import FIRST_RATE_DATE, Profile
from sco_etl.flows.server import free_port
from sco_etl.tasks.cbr.settings import RECHECK_DAYS

log = logging.getLogger("benchmarks")
CLI_SERVER_TIMEOUT = 180
"""Seconds the CLI's temporary Prefect server may take to start (Prefect's default: 20)."""


class Suite:
    """Where jobs run: a fresh worker process each (default), or this process (`inline`)."""

    def __init__(self, profile: Profile, work: Path, inline: bool) -> None:
        self.profile = profile
        self.work = work
        self.inline = inline
        self.prefect: PrefectServer | None = None

    @contextmanager
    def started(self):
        with ExitStack() as stack:
            if not self.inline:
                self.prefect = stack.enter_context(
                    PrefectServer(child_env(), self.work))
            else:
                stack.enter_context(_prefect_api())
            yield self

    def job(self, name: str, params: dict, **env: str) -> dict:
        if self.inline:
            from benchmarks.worker import job

            with _environment(env):
                return job(name)(params)
        home = self.work / "prefect-client-home"
        home.mkdir(exist_ok=True)
        environment = child_env(PREFECT_API_URL=self.prefect.api_url, PREFECT_HOME=str(home),
                                **env)
        return run_worker(name, params, environment, self.work)


def backfill_section(suite: Suite, cbr: CachedCbr, url: str, history, ms: int,
                     first: bool) -> dict:
    """Section 1 at one latency: sco-etl (flow, CLI) and the peer, full history."""
    profile, work = suite.profile, suite.work
    cbr.latency = ms / 1000
    base = {"cbr_url": url, "start": str(FIRST_RATE_DATE),
            "currencies": list(profile.currencies) if profile.currencies else None}
    if first and profile.warm_up:
        log.info("warm-up backfill (not measured)")
        suite.job("backfill", {**base, "data_dir": str(work / "warm-up")})
    log.info("sco-etl backfill at %d ms", ms)
    before = cbr.snapshot()
    sco = suite.job("backfill", {**base, "data_dir": str(work / f"sco-{ms}ms")})
    sco["server"] = cbr.since(before)
    section = {"sco_etl": sco}
    if ms == 0 and profile.interval_cost:
        log.info("sco-etl backfill without the request interval")
        section["sco_etl_no_interval"] = suite.job(
            "backfill", {**base, "data_dir": str(work / "sco-no-interval")},
            SCO_ETL_REQUEST_INTERVAL="0")
    if profile.cli and not suite.inline:
        log.info("sco-etl CLI backfill at %d ms", ms)
        section["cli"] = cli_backfill(suite, cbr, url, ms, warm_up=first)
        log.info("sco-etl CLI backfill at %d ms, temporary Prefect server", ms)
        section["cli_temporary"] = cli_backfill(suite, cbr, url, ms, warm_up=first,
                                                temporary=True)
    log.info("peer at %d ms", ms)
    section["peer"] = peer_backfill(suite, cbr, url, history, ms)
    return section


def cli_backfill(suite: Suite, cbr: CachedCbr, url: str, ms: int, warm_up: bool,
                 temporary: bool = False) -> dict:
    """`sco-etl rates --start 1992-07-01` as a user runs it, no Prefect server running.

    By default the command starts the background `sco-etl server` (its database made on an
    earlier day) and runs the backfill itself; the server, which outlives the command, is
    measured apart (`peak_detached_rss_mb`) and stopped afterwards. `temporary`: with
    SCO_ETL_AUTO_SERVER=0, Prefect's temporary server, part of the command's process tree.
    """
    kind = "temporary" if temporary else "auto"
    home = suite.work / f"cli-prefect-home-{kind}"
    home.mkdir(exist_ok=True)
    command = [str(Path(sys.executable).parent / "sco-etl"), "rates",
               "--start", str(FIRST_RATE_DATE)]
    if suite.profile.currencies:
        command += ["--currencies", ",".join(suite.profile.currencies)]
    server_home = suite.work / f"cli-{kind}-server"

    def run(data: Path, args: list[str]):
        # Prefect gives its temporary server 20 s to start; on a busy 2-core machine that is
        # not always enough, and a timeout here would measure nothing.
        env = child_env(SCO_ETL_DATA_DIR=str(data), SCO_ETL_CBR_URL=url, PREFECT_HOME=str(home),
                        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=str(CLI_SERVER_TIMEOUT),
                        PREFECT_SERVER_API_PORT=str(free_port(None)),
                        **({"SCO_ETL_AUTO_SERVER": "0"} if temporary else {}))
        if not temporary and server_home.exists():  # yesterday's server database
            shutil.copytree(server_home, data / "prefect", dirs_exist_ok=True)
        try:
            child = run_child(args, env, suite.work / "cli.log")
        finally:
            if not temporary:
                run_child([*command[:1], "server", "stop"], env, suite.work / "cli.log")
        if child.returncode != 0:
            raise RuntimeError(f"sco-etl rates failed (exit {child.returncode}); "
                               f"see {suite.work / 'cli.log'}")
        return child

    try:
        if warm_up:  # the first command in a new Prefect home also creates its database
            yesterday = dt.date.today() - dt.timedelta(days=1)
            data = suite.work / f"cli-warm-up-{kind}"
            run(data, [*command[:2], "--start", str(yesterday)])
            if not temporary:
                shutil.copytree(data / "prefect", server_home, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.json", "*.lock", "*.sock",
                                                              "*.log", "last-used"))
        before = cbr.snapshot()
        child = run(suite.work / f"cli-{kind}-{ms}ms", command)
    except RuntimeError as error:
        log.error("%s", error)
        return {"error": str(error)}
    return {"seconds": child.wall_seconds, "peak_rss_mb": child.peak_rss_mb,
            "peak_tree_rss_mb": child.peak_tree_rss_mb,
            "peak_detached_rss_mb": child.peak_detached_rss_mb, "server": cbr.since(before)}


def peer_backfill(suite: Suite, cbr: CachedCbr, url: str, history, ms: int) -> dict:
    """The peer on a slice (the latest `peer_days` days), scaled to the whole history."""
    days = suite.profile.peer_days
    end = history.last_date
    start = max(history.first_date, end - dt.timedelta(days=days - 1))
    cbr.warm_daily(start + dt.timedelta(days=i) for i in range((end - start).days + 1))
    before = cbr.snapshot()
    peer = suite.job("peer", {
        "cbr_url": url, "start": str(start), "end": str(end),
        "data_dir": str(suite.work / f"peer-{ms}ms"),
        "currencies": list(suite.profile.currencies) if suite.profile.currencies else None,
    })
    peer["server"] = cbr.since(before)
    full_requests = (history.last_date - history.first_date).days + 1
    peer.update(slice_start=str(start), slice_end=str(end), full_requests=full_requests,
                scale=full_requests / peer["requests"],
                scaled_seconds=peer["seconds"] * full_requests / peer["requests"])
    return peer


def catchup_section(suite: Suite, cbr: CachedCbr, url: str, history,
                    latencies_ms: list[int]) -> dict:
    """Section 2: a daily catch-up over a small and a large stored history, at each latency.

    The stores end the day before the latest publication, so each catch-up has one new
    publication date to add (and re-checks the 7 days before it, as every run does).
    """
    profile = suite.profile
    latest = history.publication_dates[-1]
    stored_end = latest - dt.timedelta(days=1)
    currencies = list(profile.currencies) if profile.currencies else None
    cbr.latency = 0
    log.info("catch-up: storing %s years of history", profile.catchup_years)
    setup = suite.job("catchup_setup", {
        "root": str(suite.work), "cbr_url": url, "end": str(stored_end),
        "years": list(profile.catchup_years), "first_date": str(history.first_date),
        "currencies": currencies,
    })
    latest_stored = max(d for d in history.publication_dates if d <= stored_end)
    recheck_from = latest_stored - dt.timedelta(days=RECHECK_DAYS)
    section = {"stores": setup["stores"], "new_publication_date": str(latest),
               "expected_partitions": [f"lake/main/rates/year={latest.year}"], "latencies": {},
               "recheck_requests": sum(1 for d in history.publication_dates
                                       if recheck_from <= d <= latest_stored)}
    for ms in latencies_ms if profile.catchup_every_latency else latencies_ms[:1]:
        cbr.latency = ms / 1000
        log.info("catch-up at %d ms", ms)
        result = suite.job("catchup", {
            "root": str(suite.work), "cbr_url": url, "stores": setup["stores"],
            "runs": profile.catchup_runs, "currencies": currencies,
        })
        result.pop("process", None)  # the figures are per store; the process is not one
        section["latencies"][str(ms)] = result
    return section


@contextmanager
def _environment(values: dict[str, str]):
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _prefect_api():
    """In-process runs use the Prefect API already configured, else a test harness."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=240):
        yield
