"""The log of one `sco-etl` run: a file under `<data dir>/logs/`, the terminal only on -v.

Prefect and the tasks log to the root logger. Before Prefect is imported, a file handler on
the root makes Prefect leave the root alone (it keeps "user" handlers), so its banner, task
tracebacks and retry warnings land in the file; after import (tests run flows in-process),
the console handlers already on the root are taken off instead.

The file, and its folder, come into being with the first record: a command that logs nothing
(a query that works, a value refused before anything starts) leaves nothing behind, and a
command that only reads creates no folder in a data directory that does not exist (its log, if
an unforeseen error needs one, goes to the system's temporary folder). Each command keeps its
newest `LOGS_KEPT` logs; older ones are deleted when a new one is opened.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

FORMAT = "%(asctime)s | %(levelname)-7s | %(name)s - %(message)s"
HANDLER_NAME = "sco-etl-run-log"
LOGS_KEPT = 10
"""Logs kept per command (`rates-*.log`, `news-*.log`, …); the oldest go first."""
log = logging.getLogger("sco_etl.cli")


class RunLog(logging.FileHandler):
    """The run's log file, `<folder>/<command>-<UTC time>.log`, opened by the first record;
    opening it creates the folder (the system's temporary folder when that fails) and deletes
    the command's logs beyond the newest `LOGS_KEPT`."""

    def __init__(self, folder: Path, command: str) -> None:
        self.folder = folder
        self.command = command
        self.path: Path | None = None
        super().__init__(folder / f"{command}.log", encoding="utf-8", delay=True)

    def _open(self):
        from sco_etl.schemas.clock import utc_now

        name = f"{self.command}-{utc_now():%Y%m%dT%H%M%S.%fZ}.log"
        try:
            stream = self._open_in(self.folder / name)
        except OSError:  # a data directory we cannot write still deserves a log somewhere
            stream = self._open_in(temporary_folder() / name)
        logs = sorted((p for p in self.path.parent.glob(f"{self.command}-*.log")
                       if p.name.rsplit("-", 1)[0] == self.command), reverse=True)
        for old in logs[LOGS_KEPT:]:
            old.unlink(missing_ok=True)
        return stream

    def _open_in(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.baseFilename = os.path.abspath(path)
        stream = super()._open()
        self.path = path
        return stream


def temporary_folder() -> Path:
    return Path(tempfile.gettempdir()) / "sco-etl-logs"


def folder_for(data_dir: Path, writes: bool) -> Path:
    """Where the run's log goes: `<data dir>/logs/`, or the temporary folder for a command
    that only reads a data directory that does not exist (it must create nothing there)."""
    return data_dir / "logs" if writes or data_dir.is_dir() else temporary_folder()


def start(folder: Path, command: str, verbose: bool) -> RunLog:
    """Send all logging to the run's log in `folder`; keep the terminal on -v."""
    handler = RunLog(folder, command)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if _is_console(h) or h.get_name() == HANDLER_NAME]:
        if verbose and old.get_name() != HANDLER_NAME:
            continue
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    if verbose and not any(_is_console(h) for h in root.handlers):
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(console)
    return handler


def record(error: BaseException, run_log: RunLog) -> Path | None:
    """Write the failure with its traceback to the run's log; return the file's path."""
    log.error("%s: %s", type(error).__name__, error, exc_info=error)
    for handler in logging.getLogger().handlers:
        handler.flush()
    return run_log.path


def _is_console(handler: logging.Handler) -> bool:
    if type(handler).__name__ == "PrefectConsoleHandler":
        return True
    stream = getattr(handler, "stream", None)
    return not isinstance(handler, logging.FileHandler) and stream in (
        sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
