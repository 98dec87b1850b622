"""Kill a real ingestion subprocess at a chosen point, then judge what it left behind.

The subprocess is `python -m tests.fakes.crash_run` (see there for the kill points), talking to
the session's Prefect test server. After the kill, `inspect_after_kill` checks what any reader
or the next writer would meet: a writer can commit at once, no unreadable file, content exactly
as before the run or exactly as after it, never a mix, and the files the killed writer left
unlisted are orphans that maintenance deletes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.maintenance import maintain
from tests.fakes.reliability import REPO, leftovers, lock_is_free, lost_rows, snapshot

KILLED = -signal.SIGKILL
TIMEOUT = 600


def subprocess_env(pycache: Path, **settings: str) -> dict[str, str]:
    """The environment of a crash subprocess: the test Prefect server, fast HTTP, a warm
    bytecode cache (the sandbox sets PYTHONDONTWRITEBYTECODE; compiling Prefect on every
    start costs ~10 s of CPU)."""
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCO_ETL_", "PREFECT_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
        "PYTHONPYCACHEPREFIX": str(pycache),
        "SCO_ETL_HTTP_BACKOFF": "0.01",
        "SCO_ETL_REQUEST_INTERVAL": "0",
        "SCO_ETL_LOCK_TIMEOUT": "30",
        **settings,
    })
    return env


def run_flow(flow: str, kwargs: dict, env: dict[str, str], kill: str | None,
             log: Path) -> subprocess.CompletedProcess:
    """Run the flow in a subprocess, killed at `kill` (None: let it finish)."""
    spec = json.dumps({"flow": flow, "kwargs": kwargs}, default=str)
    child_env = dict(env)
    if kill:
        child_env["SCO_ETL_TEST_KILL_AT"] = kill
    result = subprocess.run(
        [sys.executable, "-m", "tests.fakes.crash_run", spec], cwd=REPO, env=child_env,
        capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )
    log.write_text(f"$ kill at {kill}\nexit {result.returncode}\n--- stdout\n{result.stdout}"
                   f"\n--- stderr\n{result.stderr}")
    return result


@dataclass
class AfterKill:
    """What the kill left, seen by a reader at once and after maintenance."""

    visible: str
    """What a reader sees right after the kill: before, after, or mixed."""
    recovered: str
    """What is left after maintenance removed the orphans: before or after (never mixed)."""
    rows_lost: int
    tmp_files: int
    orphans: int
    """Data files the killed writer wrote but never committed."""
    orphans_after_maintenance: int
    unreadable: int
    lock_free: bool


def inspect_after_kill(root: Path, before: dict, after: dict, scratch: Path) -> AfterKill:
    """Judge the killed run's directory; maintenance is tried on a copy, so the rerun that
    follows still meets the state exactly as the kill left it."""
    found = leftovers(root)
    visible = _which(snapshot(Warehouse(root)), before, after)
    probe = scratch / "recovered"
    shutil.copytree(root, probe)
    lock_free = lock_is_free(probe)
    maintain(Warehouse(probe, lock_timeout=5), orphan_grace=dt.timedelta(0))
    state = snapshot(Warehouse(probe))
    remaining = leftovers(probe)["orphans"]
    shutil.rmtree(probe)
    return AfterKill(
        visible=visible, recovered=_which(state, before, after),
        rows_lost=min(lost_rows(before, state), lost_rows(after, state)),
        tmp_files=len(found["tmp"]), orphans=len(found["orphans"]),
        orphans_after_maintenance=len(remaining), unreadable=len(found["unreadable"]),
        lock_free=lock_free,
    )


def _which(state: dict, before: dict, after: dict) -> str:
    if state == before:
        return "before"
    if state == after:
        return "after"
    return "mixed"
