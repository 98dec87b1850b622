"""Section 5 of the suite: `sco-etl` as a person runs it on the command line.

Issue 19's figures, side by side in one run, each command a fresh process with the user's
defaults (request interval included), against the cached fake CBR, from a copy of the small
catch-up store of section 2:

- a daily catch-up `sco-etl rates` with the background `sco-etl server` running (warm);
- the same as the first command of the day: no server running, so the command starts one
  (its database made on an earlier day) and the runs after it find it — the default;
- the alternative: no background server at all (SCO_ETL_AUTO_SERVER=0), so every command
  starts Prefect's temporary server and pays its start-up each time;
- `sco-etl --help`, and an input error (`rates --currencies XYZ`), which must start nothing;
- what `sco-etl server start|stop` cost, and a failed run with no network (issue 11).

    .venv/bin/python -m benchmarks.cli_bench [--rounds 3]

runs the section on its own (a year of history, a store made by a backfill) and prints the
figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import child_env, run_child
from sco_etl.flows.server import free_port

log = logging.getLogger("benchmarks")
SCO_ETL = str(Path(sys.executable).parent / "sco-etl")
STARTED = re.compile(r"started a sco-etl server at \S+ in (\d+\.\d+) s")
TEMPORARY_LINE = "using a temporary Prefect server"
REQUESTS = re.compile(r"\((\d+)\s+requests\)")  # the terminal may wrap the line
UNREACHABLE_URL = "http://cbr.invalid/scripts/"
"""`.invalid` never resolves (RFC 2606): a DNS failure, as with no network at all."""
HELP_RUNS = 7
KINDS = ("with_server", "first_of_day", "without_server")
"""`without_server`: SCO_ETL_AUTO_SERVER=0, a temporary Prefect server per command."""


def cli_section(work: Path, url: str, store: dict, rounds: int) -> dict:
    """Catch-ups warm, first of the day and with a temporary server; --help; an input error;
    server start/stop; a failed run."""
    data = work / "cli-catchup"
    env = child_env(SCO_ETL_DATA_DIR=str(data), SCO_ETL_CBR_URL=url,
                    PREFECT_SERVER_API_PORT=str(free_port(None)),
                    PREFECT_HOME=str(work / "cli-catchup-prefect-home"))
    temporary = {**env, "SCO_ETL_AUTO_SERVER": "0"}
    log_path = work / "cli-section.log"
    seconds: dict[str, list[float]] = {kind: [] for kind in (*KINDS, "start", "stop",
                                                            "auto_start")}
    rss: dict[str, list[float]] = {kind: [] for kind in KINDS}
    background: dict[str, list[float]] = {kind: [] for kind in KINDS}
    requests: list[int] = []
    # Yesterday's server: its database exists when the first command of the day starts it.
    seconds["start"].append(_command(["server", "start"], env, log_path).wall_seconds)
    seconds["stop"].append(_command(["server", "stop"], env, log_path).wall_seconds)
    for _ in range(rounds):
        for kind in ("first_of_day", "with_server", "without_server"):
            if kind == "without_server":
                seconds["stop"].append(_command(["server", "stop"], env, log_path).wall_seconds)
            _restore(Path(store["path"]), data)
            group = _server_group(data) if kind == "with_server" else None
            run = _command(["rates"], temporary if kind == "without_server" else env, log_path,
                           group=group)
            output = _last_output(log_path)
            _check_server_line(kind, output, log_path, seconds["auto_start"])
            requests += [int(n) for n in REQUESTS.findall(output)]
            seconds[kind].append(run.wall_seconds)
            rss[kind].append(run.peak_tree_rss_mb)
            background[kind].append(max(run.peak_detached_rss_mb, run.peak_group_rss_mb))
        seconds["start"].append(_command(["server", "start"], env, log_path).wall_seconds)
        seconds["stop"].append(_command(["server", "stop"], env, log_path).wall_seconds)
    medians = {kind: statistics.median(seconds[kind]) for kind in KINDS}
    return {
        "rounds": rounds,
        "seconds": {kind: [round(s, 2) for s in values] for kind, values in seconds.items()},
        "catchup_with_server_seconds": medians["with_server"],
        "catchup_first_of_day_seconds": medians["first_of_day"],
        "catchup_without_server_seconds": medians["without_server"],
        "catchup_warm_to_cold": medians["with_server"] / medians["first_of_day"],
        "catchup_requests": max(requests, default=None),
        "catchup_tree_rss_mb": {kind: max(values) for kind, values in rss.items()},
        "catchup_background_rss_mb": {kind: max(values) for kind, values in background.items()},
        "auto_start_seconds": statistics.median(seconds["auto_start"]),
        "server_start_first_seconds": seconds["start"][0],
        "server_start_seconds": statistics.median(seconds["start"][1:] or seconds["start"]),
        "server_stop_seconds": statistics.median(seconds["stop"]),
        "help_seconds": help_seconds(work, env),
        "input_error": input_error(work, env),
        "failed_run": failed_run(work),
    }


def _server_group(data: Path) -> int | None:
    """The process group of the data directory's running background server."""
    try:
        return json.loads((data / "prefect" / "server.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def help_seconds(work: Path, env: dict[str, str], runs: int = HELP_RUNS) -> float:
    """The median wall time of `sco-etl --help`."""
    log_path = work / "cli-help.log"
    times = [_command(["--help"], env, log_path).wall_seconds for _ in range(runs)]
    return statistics.median(times)


def input_error(work: Path, env: dict[str, str], runs: int = 3) -> dict:
    """`sco-etl rates --currencies XYZ` in a fresh data directory: refused at once, and
    nothing started or made."""
    log_path = work / "cli-input-error.log"
    data = work / "cli-input-error"
    here = {**env, "SCO_ETL_DATA_DIR": str(data)}
    times, codes = [], set()
    for _ in range(runs):
        run = _command(["rates", "--currencies", "XYZ"], here, log_path, check=False)
        times.append(run.wall_seconds)
        codes.add(run.returncode)
    lines = [line for line in _last_output(log_path).splitlines() if line.strip()]
    return {"seconds": statistics.median(times), "exit_codes": sorted(codes),
            "lines": len(lines), "created_anything": data.exists()}


def failed_run(work: Path) -> dict:
    """`sco-etl rates` with CBR unreachable: what lands on the terminal, and how fast."""
    log_path = work / "cli-failed.log"
    env = child_env(SCO_ETL_DATA_DIR=str(work / "cli-failed"), SCO_ETL_CBR_URL=UNREACHABLE_URL,
                    PREFECT_HOME=str(work / "cli-catchup-prefect-home"),
                    SCO_ETL_AUTO_SERVER="0")
    run = _command(["rates"], env, log_path, check=False)
    lines = [line for line in _last_output(log_path).splitlines() if line.strip()]
    return {"exit_code": run.returncode, "seconds": run.wall_seconds, "lines": len(lines),
            "traceback": any(line.startswith("Traceback") for line in lines),
            "output": lines}


def _check_server_line(kind: str, output: str, log_path: Path, started: list[float]) -> None:
    """Each kind says what it should: the first of the day that it started the server, the
    temporary one that it used a temporary server, the warm one nothing."""
    found = STARTED.search(output)
    said = {"first_of_day": bool(found), "without_server": TEMPORARY_LINE in output,
            "with_server": not found and TEMPORARY_LINE not in output}
    if not said[kind]:
        raise RuntimeError(f"sco-etl rates ({kind}) did not say what it should; see {log_path}")
    if found:
        started.append(float(found.group(1)))


def _restore(store: Path, data: Path) -> None:
    """The store's catalog and files into `data`, leaving its `prefect/` (a running server's
    home) alone: each catch-up starts from the same history."""
    data.mkdir(parents=True, exist_ok=True)
    for path in store.iterdir():
        if path.name == "prefect":
            continue
        target = data / path.name
        if target.is_dir():
            shutil.rmtree(target)
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            shutil.copy2(path, target)


def _command(args: list[str], env: dict[str, str], log_path: Path, check: bool = True,
             group: int | None = None):
    run = run_child([SCO_ETL, *args], env, log_path, timeout=600, group=group)
    if check and run.returncode != 0:
        raise RuntimeError(f"sco-etl {' '.join(args)} failed (exit {run.returncode}); "
                           f"see {log_path}")
    return run


def _last_output(log_path: Path) -> str:
    """The output of the last command `run_child` logged (each starts with a `$ ` line)."""
    return log_path.read_text(errors="replace").rsplit("\n$ ", 1)[-1].split("\n", 1)[-1]


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a manual benchmark
    import datetime as dt

    from benchmarks.measure import machine
    from benchmarks.servers import serve_cbr
    from sco_etl.schemas.clock import moscow_tomorrow
    from tests.fakes.cbr_history import History

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the work folder here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per fake CBR request
    last = moscow_tomorrow()
    history = History(last_date=last, first_date=last - dt.timedelta(days=400))
    history.values  # noqa: B018  (computed before anything is timed)
    # As section 2: stored up to the day before the latest publication, an ordinary day.
    stored_end = history.publication_dates[-1] - dt.timedelta(days=1)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sco-cli-bench-", dir=args.keep))
    try:
        with serve_cbr(history) as (_, url):
            store = work / "store"
            env = child_env(SCO_ETL_DATA_DIR=str(store), SCO_ETL_CBR_URL=url,
                            SCO_ETL_AUTO_SERVER="0", PREFECT_HOME=str(work / "store-home"))
            _command(["rates", "--start", str(stored_end - dt.timedelta(days=365)),
                      "--end", str(stored_end)], env, work / "store.log")
            figures = cli_section(work, url, {"path": str(store)}, args.rounds)
        figures["machine"] = machine()
        print(json.dumps(figures, indent=1, default=str))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
