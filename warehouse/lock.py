"""One writer at a time: an advisory lock file in the data directory.

`flock` is released by the kernel when the holder dies, even by SIGKILL, so a crashed run
never leaves the warehouse locked.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from schemas.errors import WarehouseBusyError

LOCK_FILE = ".writer.lock"
POLL_SECONDS = 0.1


class WriterLock:
    """An exclusive, process-wide writer lock on a data directory."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.path = root / LOCK_FILE
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise WarehouseBusyError(
                        f"another sco-etl run ({holder}) is writing to {self.path.parent}; "
                        f"waited {self.timeout:.0f} s. Let it finish and run again, or raise "
                        "SCO_ETL_LOCK_TIMEOUT."
                    ) from None
                time.sleep(POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": time.time()}).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 256, 0) or b"{}")
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"]))
        return f"pid {info['pid']}, since {started}"
    except (ValueError, KeyError, OSError):
        return "pid unknown"
