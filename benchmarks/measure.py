"""Measuring: child processes with their peak memory, the machine, and its load during a run."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PYCACHE = Path(tempfile.gettempdir()) / "sco-etl-bench-pycache"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of measured processes.

    If this shell forbids bytecode files (PYTHONDONTWRITEBYTECODE), every child would compile
    Prefect from source on each start (~5 s of CPU), which no installed copy does; the
    children keep their bytecode in a cache directory instead.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "SCO_ETL_", "CBRF_"))}
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.update(extra)
    return env


@dataclass
class ChildRun:
    """A finished child process: its exit status, wall time and memory."""

    returncode: int
    wall_seconds: float
    peak_rss_mb: float
    """The largest resident set of any one process of the tree (getrusage of the child)."""
    peak_tree_rss_mb: float
    """The largest sum over the child's process tree, sampled every 50 ms: the processes of
    its session, which end with it (a temporary Prefect server included)."""
    peak_detached_rss_mb: float = 0.0
    """The same over the descendants in sessions of their own, which outlive it: the
    background `sco-etl server` a command started, until the command ends."""
    peak_group_rss_mb: float = 0.0
    """The same over the processes of `group` (a background server running before)."""


def run_child(command: list[str], env: dict[str, str], log_path: Path,
              timeout: float = 3600.0, group: int | None = None) -> ChildRun:
    """Run `command`, sampling its process tree's memory (and `group`'s, a process group);
    the child's output goes to a log."""
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(command)}\n".encode())
        log.flush()
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT)
        sampler = _TreeSampler(process.pid, group)
        sampler.start()
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
    return ChildRun(process.returncode, wall, usage.ru_maxrss / 1024, sampler.peak / 2**20,
                    sampler.peak_detached / 2**20, sampler.peak_group / 2**20)


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int, group: int | None = None) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.group = group
        self.peak = self.peak_detached = self.peak_group = 0
        self._done = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
            session = os.getsid(self.pid)
        except (psutil.Error, OSError):
            return
        while not self._done.wait(0.05):
            own = detached = 0
            try:
                for process in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error, OSError):
                        rss = process.memory_info().rss
                        if os.getsid(process.pid) == session:
                            own += rss
                        else:
                            detached += rss
            except psutil.Error:
                return
            self.peak = max(self.peak, own)
            self.peak_detached = max(self.peak_detached, detached)
            if self.group is not None:
                self.peak_group = max(self.peak_group, group_rss(self.group))

    def stop(self) -> None:
        self._done.set()
        self.join()


def group_rss(pgid: int) -> int:
    """Bytes resident in the live processes of a process group."""
    total = 0
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == pgid:
                total += process.memory_info().rss
    return total


def run_worker(job: str, params: dict, env: dict[str, str], work_dir: Path,
               timeout: float = 3600.0) -> dict:
    """Run one job of `benchmarks.worker` in a fresh interpreter; return its result."""
    stem = f"{job}-{time.monotonic_ns()}"
    params_path, result_path = work_dir / f"{stem}.params.json", work_dir / f"{stem}.result.json"
    params_path.write_text(json.dumps(params, default=str))
    child = run_child([sys.executable, "-m", "benchmarks.worker", job, str(params_path),
                       str(result_path)], env, work_dir / "workers.log", timeout)
    if child.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"benchmark job {job} failed (exit {child.returncode}); "
                           f"see {work_dir / 'workers.log'}")
    result = json.loads(result_path.read_text())
    result["process"] = {"wall_seconds": child.wall_seconds, "peak_rss_mb": child.peak_rss_mb,
                         "peak_tree_rss_mb": child.peak_tree_rss_mb}
    return result


@dataclass
class LoadMonitor:
    """Samples the 1-minute load average every few seconds during the run."""

    interval: float = 5.0
    samples: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoadMonitor:
        self.samples.append(os.getloadavg()[0])
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        return {"min": min(self.samples), "mean": sum(self.samples) / len(self.samples),
                "max": max(self.samples), "end_1_5_15": list(os.getloadavg())}


def machine() -> dict:
    """What the figures were measured on."""
    import duckdb
    import pandas
    import prefect
    import pyarrow

    memory = psutil.virtual_memory().total
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gb": round(memory / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "prefect": prefect.__version__,
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "bytecode_cache": "PYTHONPYCACHEPREFIX" if os.environ.get("PYTHONDONTWRITEBYTECODE")
        else "default",
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
