"""The paragraph a failed command prints: what failed, what was kept, what to do.

One place builds it from the error hierarchy of `schemas.errors`, so every command fails the
same way: a few lines, no traceback (that is in the run's log file, or on the terminal with -v).
"""

from __future__ import annotations

import os
from pathlib import Path

from sco_etl.schemas.errors import (
    ConfigError,
    ReadOnlyQueryError,
    ScoEtlError,
    SourceError,
    SourceFormatError,
    SourceRejectedError,
    TransientSourceError,
    ValidationFailure,
    WarehouseBusyError,
    WarehouseError,
)
from sco_etl.tasks.cbr.settings import CBR_URL

INGESTING = {"rates", "news"}
READ_ONLY = {"board", "query", "page", "status", "changes", "export", "catalog", "news search",
             "plot"}
"""Commands that only read the warehouse: their foreseen failures need no log file."""


def explain(error: BaseException, command: str, log_file: Path | None,
            verbose: bool = False) -> list[str]:
    """The lines to print for `error` raised by `sco-etl <command>`."""
    lines = [f"sco-etl {command} failed: {_what_failed(error, command)}"]
    kept = _what_was_kept(error, command)
    if kept:
        lines.append(kept)
    todo = _what_to_do(error, command)
    if log_file:
        shown = "" if verbose else " (--verbose shows it on the terminal)"
        todo = f"{todo} Full log: {log_file}{shown}.".lstrip()
    if todo:
        lines.append(todo)
    return lines


def _what_failed(error: BaseException, command: str) -> str:
    if isinstance(error, SourceError) and error.url and error.cause:
        return f"{error.url} — {error.cause}."
    if isinstance(error, SourceFormatError) and command == "rates":
        # The parsers are pure and know no URL; the service they read is the configured one.
        url = os.environ.get("SCO_ETL_CBR_URL") or CBR_URL
        return f"the answer of {url} is not a CBR document: {error}"
    if isinstance(error, ScoEtlError | ValueError):  # ValueError: an option's value
        return str(error).removeprefix("query failed: ")
    return f"unexpected {type(error).__name__}: {error}"


def _what_was_kept(error: BaseException, command: str) -> str:
    if command in READ_ONLY:
        return "The warehouse is unchanged (this command only reads)."
    if command not in INGESTING:
        return ""  # serve, server, maintain: no one sentence fits all their failures
    if isinstance(error, ConfigError):
        return "Nothing ran; the warehouse is unchanged."
    if isinstance(error, WarehouseBusyError):
        return "The warehouse is unchanged."
    if command == "news" and isinstance(error, SourceError) and error.url is None:
        return ""  # the flow's own message says what the other sources committed
    if isinstance(error, SourceError | ValidationFailure):
        return "The warehouse is unchanged (the failed run is recorded in `loads`)."
    return "`sco-etl status` shows what the warehouse holds and the run's row in `loads`."


def _what_to_do(error: BaseException, command: str) -> str:
    setting = "SCO_ETL_CBR_URL" if command == "rates" else "--feed or SCO_ETL_NEWS_FEEDS"
    if isinstance(error, TransientSourceError):
        if (error.cause or "").startswith(("DNS", "connection", "timed out")):
            return f"Check the network (or set {setting} to a reachable service), then retry."
        return "The service is failing for now; retry later."
    if isinstance(error, SourceRejectedError):
        return f"Check the URL ({setting})."
    if isinstance(error, SourceFormatError):
        return (f"Check that {setting} points at the service (for CBR its scripts/ folder); "
                "if it shows an error page, retry later.")
    if isinstance(error, SourceError):
        # news: the flow's message already says which URLs to check and that a rerun is safe
        return "" if command == "news" else "Retry later."
    if isinstance(error, WarehouseBusyError):
        return "Retry when the other writer is done (or raise SCO_ETL_LOCK_TIMEOUT)."
    if isinstance(error, ReadOnlyQueryError):
        return ""  # its message says it: change data through the ingestion commands
    if isinstance(error, WarehouseError) and command == "query":
        return 'Fix the SQL (`sco-etl query "SHOW TABLES"` lists the tables).'
    if isinstance(error, ConfigError) and command == "export":
        return "Give a folder in a place you can write (its parent is created if missing)."
    if isinstance(error, ConfigError | ValueError):
        return "Fix the value and run again."
    if isinstance(error, ScoEtlError):
        return "Retry when the cause is fixed."
    return "This is a bug or an unforeseen condition; the log has the traceback."
