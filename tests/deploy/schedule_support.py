"""Helpers of the scheduling tests (subprocess environments, process trees); no tests here."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
# Bytecode for the subprocesses, kept outside the work tree: this machine sets
# PYTHONDONTWRITEBYTECODE, and every `prefect` subprocess would otherwise compile Prefect from
# source again (~8 s of CPU each on 2 cores).
PYCACHE = Path(tempfile.gettempdir()) / "sco-etl-test-pycache"
DROPPED = {"PYTHONDONTWRITEBYTECODE", "PREFECT_API_URL", "PREFECT_PROFILE"}


def subprocess_env(prefect_home: Path, **extra: str) -> dict[str, str]:
    """The environment for a `prefect` or `sco-etl` subprocess: isolated home, analytics off."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        PYTHONPYCACHEPREFIX=str(PYCACHE),
        SCO_ETL_REQUEST_INTERVAL="0",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def prefect_api(api_url: str) -> Iterator[None]:
    """Point this process's Prefect client at `api_url` for the block."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def still_running(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of `processes` still alive after waiting up to `timeout` seconds."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def kill_tree(pid: int) -> None:
    """Last-resort cleanup after a failed test: nothing we started may outlive it."""
    with contextlib.suppress(psutil.NoSuchProcess):
        processes = [psutil.Process(pid), *descendants(pid)]
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(processes, timeout=10)


def listening(port: int) -> bool:
    return any(c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
               for c in psutil.net_connections("tcp"))


def minutes_ahead(now: dt.datetime, lead: dt.timedelta, count: int) -> list[dt.datetime]:
    """The first `count` whole minutes at least `lead` after `now`."""
    first = (now + lead).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return [first + dt.timedelta(minutes=i) for i in range(count)]


def cron_at(moments: list[dt.datetime]) -> str:
    """A cron expression that fires at each of `moments` (wall-clock minutes in their zone)."""
    minutes = ",".join(str(m) for m in sorted({t.minute for t in moments}))
    hours = ",".join(str(h) for h in sorted({t.hour for t in moments}))
    return f"{minutes} {hours} * * *"
