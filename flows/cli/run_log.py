"""The log of one `sco-etl` run: a file under `<data dir>/logs/`, the terminal only on -v.

Prefect and the tasks log to the root logger. Before Prefect is imported, a file handler on
the root makes Prefect leave the root alone (it keeps "user" handlers), so its banner, task
tracebacks and retry warnings land in the file; after import (tests run flows in-process),
the console handlers already on the root are taken off instead.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from sco_etl.schemas.clock import utc_now

FORMAT = "%(asctime)s | %(levelname)-7s | %(name)s - %(message)s"
HANDLER_NAME = "sco-etl-run-log"
log = logging.getLogger("sco_etl.cli")


def start(data_dir: Path, command: str, verbose: bool) -> Path:
    """Send all logging to `<data dir>/logs/<command>-<time>.log`; keep the terminal on -v."""
    stamp = utc_now().strftime("%Y%m%dT%H%M%S.%fZ")
    folder = data_dir / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a data directory we cannot write still deserves a log somewhere
        folder = Path(tempfile.gettempdir()) / "sco-etl-logs"
        folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{command}-{stamp}.log"
    # delay: a command that logs nothing (a query that works) leaves no file behind.
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
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
    return path


def record(error: BaseException, path: Path) -> Path:
    """Write the failure with its traceback to the run's log; return the file's path."""
    log.error("%s: %s", type(error).__name__, error, exc_info=error)
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path


def _is_console(handler: logging.Handler) -> bool:
    if type(handler).__name__ == "PrefectConsoleHandler":
        return True
    stream = getattr(handler, "stream", None)
    return not isinstance(handler, logging.FileHandler) and stream in (
        sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
