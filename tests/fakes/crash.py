"""Kill a real ingestion subprocess at a chosen point, then judge what it left behind.

The subprocess is `python -m tests.fakes.crash_run` (see there for the kill points), talking to
the session's Prefect test server. After the kill, `inspect_after_kill` checks what any reader
or the next writer would meet: the lock free, no unreadable file, and — once a writer has
replayed the journal — content exactly as before the run or exactly as after it, never a mix.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.reliability import REPO, leftovers, lock_is_free, lost_rows, snapshot
from warehouse import Warehouse

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
    """What the kill left, seen by a reader at once and by the next writer."""

    visible: str
    """What a reader sees before any writer ran: before, after, or mixed."""
    recovered: str
    """What the next writer's recovery makes of it: before or after (never mixed)."""
    rows_lost: int
    tmp_files: int
    journals: int
    unreadable: int
    lock_free: bool


def inspect_after_kill(root: Path, before: dict, after: dict, scratch: Path) -> AfterKill:
    """Judge the killed run's directory; recovery is tried on a copy, so the rerun that
    follows still meets the state exactly as the kill left it."""
    found = leftovers(root)
    lock_free = lock_is_free(root)
    visible = _which(snapshot(Warehouse(root)), before, after)
    probe = scratch / "recovered"
    shutil.copytree(root, probe)
    with Warehouse(probe, lock_timeout=5).write():
        pass  # a writer that changes nothing: it replays the journal and drops temporary files
    state = snapshot(Warehouse(probe))
    shutil.rmtree(probe)
    return AfterKill(
        visible=visible, recovered=_which(state, before, after),
        rows_lost=min(lost_rows(before, state), lost_rows(after, state)),
        tmp_files=len(found["tmp"]),
        journals=len(found["journal"]), unreadable=len(found["unreadable"]),
        lock_free=lock_free,
    )


def _which(state: dict, before: dict, after: dict) -> str:
    if state == before:
        return "before"
    if state == after:
        return "after"
    return "mixed"
