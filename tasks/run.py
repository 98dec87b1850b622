"""One flow run: who writes, what it has learned so far, and who is watching.

A flow makes one `Run` and passes it explicitly to every task. Tasks report into it what they
learn on the way — each HTTP request, each document fetched, each retry — and it keeps the
counts and tells its `Watcher`, if any (the command line's progress bar). Facts travel in
this one shape: not as logging `extra` fields, exception attributes or result fields.

A `Run` pickles without its watcher and lock, so a task can take it to a Dask worker; what a
task reports there stays on the worker's copy, and only the flow's process is watched.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sco_etl.schemas.clock import utc_now


class Watcher(Protocol):
    """Who follows a run as it goes (the command line's progress bar)."""

    def planned(self, documents: int) -> None:
        """The run will fetch this many documents."""

    def fetched(self, documents: int) -> None:
        """This many more documents arrived."""

    def retrying(self, cause: str, attempt: int, attempts: int) -> None:
        """A request failed for `cause` (`HTTP 503`, `timed out`) and is tried again."""


_watcher: contextvars.ContextVar[Watcher | None] = contextvars.ContextVar(
    "sco_etl_watcher", default=None)


@contextlib.contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Runs started in this block report to `watcher` (the flow function is called inside)."""
    token = _watcher.set(watcher)
    try:
        yield
    finally:
        _watcher.reset(token)


@dataclass
class Run:
    """A flow run's identity and its counters.

    Attributes:
        run_id: the Prefect flow run id (the lineage of every row the run writes).
        flow: the flow's name, `ingest-rates`.
        parameters: what the run was asked, for the loads ledger.
        started_at: when it started (UTC); also the `loaded_at` of every row it writes.
        requests: HTTP requests made so far, retries included.
        documents: documents fetched so far.
    """

    run_id: str
    flow: str
    parameters: dict[str, Any]
    started_at: dt.datetime = field(default_factory=utc_now)
    requests: int = 0
    documents: int = 0
    watcher: Watcher | None = field(default_factory=_watcher.get, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock")
        state["watcher"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def requested(self) -> None:
        """One HTTP request was sent."""
        with self._lock:
            self.requests += 1

    def planned(self, documents: int) -> None:
        """The run will fetch `documents` documents."""
        if self.watcher is not None:
            self.watcher.planned(documents)

    def fetched(self, documents: int = 1) -> None:
        """`documents` more documents arrived."""
        with self._lock:
            self.documents += documents
        if self.watcher is not None:
            self.watcher.fetched(documents)

    def retrying(self, cause: str, attempt: int, attempts: int) -> None:
        """A request failed for `cause` and will be tried again (attempt of attempts)."""
        if self.watcher is not None:
            self.watcher.retrying(cause, attempt, attempts)
