"""What a running `sco-etl server` saves: a catch-up `sco-etl rates` with and without it.

    .venv/bin/python -m benchmarks.server_bench [--rounds 3]

Against the cached fake CBR over a synthetic full history, on one data directory seeded by a
first `sco-etl rates`. Each round: a catch-up without a server (a temporary Prefect server
per run), `sco-etl server start`, a catch-up against it, `sco-etl server stop`; wall times
of the commands, medians over the rounds. The first start creates the Prefect database; its
time is reported apart. Writes benchmarks/results/server.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.measure import ROOT, child_env, machine
from benchmarks.servers import serve_cbr
from flows.server import free_port
from schemas.checks import tomorrow_in_moscow
from tests.fakes.cbr_history import History

SCO_ETL = ROOT / ".venv" / "bin" / "sco-etl"
RESULTS = Path(__file__).parent / "results" / "server.json"
TEMPORARY_LINE = "using a temporary Prefect server"


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run `sco-etl ARGS`; its wall seconds and output. Raises when it fails."""
    started = time.perf_counter()
    done = subprocess.run([str(SCO_ETL), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    seconds = time.perf_counter() - started
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"sco-etl {' '.join(args)} failed:\n{output}")
    return seconds, output


def measure(rounds: int) -> dict:
    history = History(last_date=tomorrow_in_moscow())
    history.values  # noqa: B018  (computed once, before anything is timed)
    work = Path(tempfile.mkdtemp(prefix="sco-bench-server-"))
    runs: dict[str, list[float]] = {"rates_without": [], "start": [], "rates_with": [],
                                    "stop": []}
    with serve_cbr(history) as (_, url):
        env = child_env(SCO_ETL_DATA_DIR=str(work / "data"), SCO_ETL_CBR_URL=url,
                        SCO_ETL_REQUEST_INTERVAL="0",
                        PREFECT_SERVER_API_PORT=str(free_port(None)))
        timed(["rates"], env)  # the seed: later runs are daily catch-ups
        for _ in range(rounds):
            seconds, output = timed(["rates"], env)
            assert TEMPORARY_LINE in output, output
            runs["rates_without"].append(seconds)
            runs["start"].append(timed(["server", "start"], env)[0])
            seconds, output = timed(["rates"], env)
            assert TEMPORARY_LINE not in output, output
            runs["rates_with"].append(seconds)
            runs["stop"].append(timed(["server", "stop"], env)[0])
    later_starts = runs["start"][1:] or runs["start"]
    return {
        "machine": machine(),
        "rounds": rounds,
        "seconds": {name: [round(s, 2) for s in values] for name, values in runs.items()},
        "median_seconds": {
            "rates_without_server": round(statistics.median(runs["rates_without"]), 2),
            "rates_with_server": round(statistics.median(runs["rates_with"]), 2),
            "server_start_new_database": round(runs["start"][0], 2),
            "server_start": round(statistics.median(later_starts), 2),
            "server_stop": round(statistics.median(runs["stop"]), 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per CBR request
    figures = measure(parser.parse_args().rounds)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    for name, seconds in figures["median_seconds"].items():
        print(f"{name:28} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
