"""One flow run: who writes, what it has learned so far, and who is watching.

A flow makes one `Run` and passes it explicitly to every task. Tasks report into it what they
learn on the way — each HTTP request, each document fetched, each retry — and it keeps the
counts and tells its `Watcher`, if any (the command line's progress bar). Facts travel in
this one shape: not as logging `extra` fields, exception attributes or result fields.

A `Run` pickles without its watcher and lock, so a task can take it to a Dask worker; what a
task reports there is counted on the worker's copy, which remembers the counts it was copied
with. A task that may run elsewhere returns the run it was given, and the flow `absorb`s what
the copy added: the counts stay exact. Only the flow's process is watched.
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
        """The run will fetch this many documents in all (again when a phase adds more)."""

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
    planned_documents: int = 0
    """Documents the run plans to fetch, all phases so far."""
    watcher: Watcher | None = field(default_factory=_watcher.get, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock")
        state["watcher"] = None
        # A copy (of a copy) remembers the counts of the original it came from.
        state.setdefault("_copied_with", (self.requests, self.documents))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def requested(self) -> None:
        """One HTTP request was sent."""
        with self._lock:
            self.requests += 1

    def planned(self, documents: int) -> None:
        """The run will fetch `documents` more documents (a later phase adds to the first)."""
        with self._lock:
            self.planned_documents += documents
            total = self.planned_documents
        if self.watcher is not None:
            self.watcher.planned(total)

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

    def absorb(self, copy: Run) -> None:
        """Add what `copy`, this run pickled to a task elsewhere, counted there.

        Nothing to add when `copy` is this very run (the task ran in this process).
        """
        if copy is self:
            return
        requests, documents = copy.__dict__.get("_copied_with", (0, 0))
        added = copy.documents - documents
        with self._lock:
            self.requests += copy.requests - requests
            self.documents += added
        if added and self.watcher is not None:
            self.watcher.fetched(added)
