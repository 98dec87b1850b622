"""How long `sco-etl serve` takes to a ready UI, and the memory it holds while idle.

    .venv/bin/python benchmarks/serve_bench.py [--rounds 2] [--idle 30] [--pycache DIR]

Round 1 starts on a new data directory (the Prefect database is created); later rounds reuse
it, as a restarted service would. Every round: start `sco-etl serve` for all deployments,
time until both the UI (`/`) and the API (`/api/health`) answer 200, wait `--idle` seconds,
sum the resident memory of the whole process tree (psutil), then Ctrl-C (SIGINT to the
process group) and time the shutdown. Schedules are replaced by a once-a-year cron so that
no flow run makes the idle figure non-idle.

This machine sets PYTHONDONTWRITEBYTECODE, so every start compiles Prefect from source;
`--pycache DIR` gives the subprocesses a bytecode cache, as a normal install has.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from sco_etl.flows.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SCO_ETL = ROOT / ".venv" / "bin" / "sco-etl"
IDLE_CRON = "0 0 1 1 *"


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def tree_rss(pid: int) -> dict[str, int]:
    """Resident bytes of each process of the tree, by a short name."""
    root = psutil.Process(pid)
    sizes: dict[str, int] = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            command = " ".join(process.cmdline())
            name = "prefect server" if "server start" in command else (
                "sco-etl serve" if process.pid == pid else command[:40])
            sizes[name] = sizes.get(name, 0) + process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return sizes


def tree_cpu(pid: int) -> float:
    """CPU seconds the process tree has used: what a busy machine stretches into wall time."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            continue
    return total


def one_round(data: Path, idle: float, pycache: str | None) -> dict:
    port = free_port(None)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(SCO_ETL_DATA_DIR=str(data), PREFECT_HOME=str(data.parent / "home"),
               PREFECT_SERVER_API_PORT=str(port), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    url = f"http://127.0.0.1:{port}"
    log = (data.parent / "serve.log").open("a")
    started = time.monotonic()
    process = subprocess.Popen([str(SCO_ETL), "serve", "--cron", IDLE_CRON], env=env,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        while not (ready(f"{url}/api/health") and ready(url)):
            if process.poll() is not None or time.monotonic() - started > 300:
                raise SystemExit(f"sco-etl serve did not become ready; see {log.name}")
            time.sleep(0.1)
        to_ready = time.monotonic() - started
        cpu_to_ready = tree_cpu(process.pid)
        time.sleep(idle)
        samples = []
        for _ in range(5):
            samples.append(tree_rss(process.pid))
            time.sleep(1)
        total = statistics.median(sum(s.values()) for s in samples)
        tree = len(psutil.Process(process.pid).children(recursive=True)) + 1
        stopping = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=120)
        return {"ready_s": to_ready, "cpu_s": cpu_to_ready, "rss_mb": total / 2**20,
                "processes": tree, "by_process_mb": {k: v / 2**20 for k, v in samples[-1].items()},
                "stop_s": time.monotonic() - stopping, "exit_code": process.returncode}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds to wait before sampling")
    parser.add_argument("--pycache", help="bytecode cache directory for the subprocesses")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        data = Path(tmp) / "data"
        print(f"python {sys.version.split()[0]}, {psutil.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f} (other work stretches wall times; CPU-s do not), "
              f"bytecode cache: {args.pycache or 'none'}")
        for number in range(1, args.rounds + 1):
            result = one_round(data, args.idle, args.pycache)
            kind = "new database" if number == 1 else "existing database"
            parts = ", ".join(f"{k} {v:.0f}" for k, v in result["by_process_mb"].items())
            print(f"round {number} ({kind}): ready UI in {result['ready_s']:.1f} s "
                  f"({result['cpu_s']:.1f} CPU-s); "
                  f"idle RSS {result['rss_mb']:.0f} MB over {result['processes']} processes "
                  f"({parts}); Ctrl-C stopped it in {result['stop_s']:.1f} s, "
                  f"exit code {result['exit_code']}")


if __name__ == "__main__":
    main()
