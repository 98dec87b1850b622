"""Helpers for the loopback services the tests start as subprocesses (`tests/fakes/postgres.py`,
`tests/fakes/s3.py`): a free port, whether a process is still running, and the error a service
that cannot start raises.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path


class LakeServiceUnavailable(RuntimeError):
    """A loopback service could not be started: a binary is missing or the start failed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (racy; callers retry on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
