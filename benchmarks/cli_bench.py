"""Section 5 of the suite: `sco-etl` as a person runs it on the command line.

Three figures of issue 11: a daily catch-up `sco-etl rates` with `sco-etl server` running
(and, beside it, without: Prefect's temporary server per run); what `sco-etl server
start|stop` cost; and a failed run with no network, counted in lines on the terminal.
Every command is a fresh process with the user's defaults (request interval included),
against the cached fake CBR, from a copy of the small catch-up store of section 2.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import sys
from pathlib import Path

from benchmarks.measure import child_env, run_child
from sco_etl.flows.server import free_port

log = logging.getLogger("benchmarks")
SCO_ETL = str(Path(sys.executable).parent / "sco-etl")
TEMPORARY_LINE = "using a temporary Prefect server"
UNREACHABLE_URL = "http://cbr.invalid/scripts/"
"""`.invalid` never resolves (RFC 2606): a DNS failure, as with no network at all."""


def cli_section(work: Path, url: str, store: dict, rounds: int) -> dict:
    """Catch-ups with and without a running server, server start/stop, a failed run."""
    data = work / "cli-catchup"
    env = child_env(SCO_ETL_DATA_DIR=str(data), SCO_ETL_CBR_URL=url,
                    PREFECT_SERVER_API_PORT=str(free_port(None)),
                    PREFECT_HOME=str(work / "cli-catchup-prefect-home"))
    log_path = work / "cli-section.log"
    seconds: dict[str, list[float]] = {"without_server": [], "with_server": [], "start": [],
                                       "stop": []}
    rss: dict[str, list[float]] = {"without_server": [], "with_server": []}
    for _ in range(rounds):
        for kind in ("without_server", "with_server"):
            if kind == "with_server":
                seconds["start"].append(_command(["server", "start"], env, log_path).wall_seconds)
            _restore(Path(store["path"]), data)
            run = _command(["rates"], env, log_path)
            said_temporary = TEMPORARY_LINE in _last_output(log_path)
            if said_temporary != (kind == "without_server"):
                raise RuntimeError(f"sco-etl rates {kind}: temporary-server line "
                                   f"{'present' if said_temporary else 'absent'}; see {log_path}")
            seconds[kind].append(run.wall_seconds)
            rss[kind].append(run.peak_tree_rss_mb)
            if kind == "with_server":
                seconds["stop"].append(_command(["server", "stop"], env, log_path).wall_seconds)
    return {
        "rounds": rounds,
        "seconds": {kind: [round(s, 2) for s in values] for kind, values in seconds.items()},
        "catchup_with_server_seconds": statistics.median(seconds["with_server"]),
        "catchup_without_server_seconds": statistics.median(seconds["without_server"]),
        "catchup_tree_rss_mb": {kind: max(values) for kind, values in rss.items()},
        "server_start_first_seconds": seconds["start"][0],
        "server_start_seconds": statistics.median(seconds["start"][1:] or seconds["start"]),
        "server_stop_seconds": statistics.median(seconds["stop"]),
        "failed_run": failed_run(work),
    }


def failed_run(work: Path) -> dict:
    """`sco-etl rates` with CBR unreachable: what lands on the terminal, and how fast."""
    log_path = work / "cli-failed.log"
    env = child_env(SCO_ETL_DATA_DIR=str(work / "cli-failed"), SCO_ETL_CBR_URL=UNREACHABLE_URL,
                    PREFECT_HOME=str(work / "cli-catchup-prefect-home"))
    run = _command(["rates"], env, log_path, check=False)
    lines = [line for line in _last_output(log_path).splitlines() if line.strip()]
    return {"exit_code": run.returncode, "seconds": run.wall_seconds, "lines": len(lines),
            "traceback": any(line.startswith("Traceback") for line in lines),
            "output": lines}


def _restore(store: Path, data: Path) -> None:
    """The store's catalog and files into `data`, leaving its `prefect/` (a running server's
    home) alone: each catch-up starts from the same history."""
    data.mkdir(parents=True, exist_ok=True)
    for path in store.iterdir():
        target = data / path.name
        if target.is_dir():
            shutil.rmtree(target)
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            shutil.copy2(path, target)


def _command(args: list[str], env: dict[str, str], log_path: Path, check: bool = True):
    run = run_child([SCO_ETL, *args], env, log_path, timeout=600)
    if check and run.returncode != 0:
        raise RuntimeError(f"sco-etl {' '.join(args)} failed (exit {run.returncode}); "
                           f"see {log_path}")
    return run


def _last_output(log_path: Path) -> str:
    """The output of the last command `run_child` logged (each starts with a `$ ` line)."""
    return log_path.read_text(errors="replace").rsplit("\n$ ", 1)[-1].split("\n", 1)[-1]
