"""Answers cached per warehouse snapshot: a hot request costs a lookup, a repeat costs a 304.

Every answer of the app is a function of the request and the snapshot it reads (and, for a
request without a date, of Moscow's today). So this ASGI middleware picks the snapshot first
— the newest one, or the one current at `known_at` — tells the route which one to read
(`request.state.snapshot_id`), derives the ETag from both, and keeps successful answers in
memory under that key. A commit makes a new snapshot and so new keys; nothing needs
invalidating.

When a commit lands, the first request for each answer would wait for its computation (a
board reads half a dozen tables: tens of milliseconds, more while the run that committed is
still busy). So while the answer from the new snapshot is computed, in the background, the
same request is answered from the newest snapshot it was kept for: a whole older snapshot,
named by its ETag and `Sco-Snapshot`, never a mix. A request nobody asked before waits for its
answer; concurrent ones wait for the same computation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sco_etl.schemas.clock import moscow_today, utc_now
from sco_etl.tasks.cbr.settings import RECHECK_DAYS
from sco_etl.warehouse.api import Readers

ENTRIES = 4096
MAX_BODY = 8 * 1024 * 1024
"""Answers larger than this (a few full histories) are streamed without being kept."""
LONG = "public, max-age=86400"
SHORT = "public, max-age=60"
FOREVER = "public, max-age=31536000, immutable"
DATE_PARAMETERS = ("date", "to", "until")
"""The parameters that bound the dates an answer covers, latest first."""


@dataclass
class Answer:
    """A kept answer: its headers (ETag and snapshot included) and its body."""

    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class Pending:
    """A computation other requests for the same key wait on."""

    done: asyncio.Event = field(default_factory=asyncio.Event)


def cache_control(parameters: dict[str, str], today: dt.date) -> str:
    """How long a client or proxy may keep an answer.

    An answer as known at a past moment never changes; one about settled past dates (before
    the catch-up's re-check window, where restatements are looked for) changes only if CBR
    restates far back; anything about today may change with the next run.
    """
    if parameters.get("known_at"):
        return FOREVER
    settled_before = today - dt.timedelta(days=RECHECK_DAYS + 1)
    for name in DATE_PARAMETERS:
        value = parameters.get(name, "")[:10]
        try:
            return LONG if dt.date.fromisoformat(value) < settled_before else SHORT
        except ValueError:
            continue
    return SHORT


class SnapshotCache:
    """ASGI middleware keeping GET answers per (snapshot, request).

    It wraps the whole app, so a kept answer costs no routing, no parameter parsing and no
    query. Until the warehouse can be read, requests go straight to the routes (a 503).
    """

    def __init__(self, app: ASGIApp, readers: Readers, entries: int = ENTRIES,
                 max_body: int = MAX_BODY) -> None:
        self.app = app
        self.readers = readers
        self.entries = entries
        self.max_body = max_body
        self.answers: OrderedDict[tuple, Answer] = OrderedDict()
        """(snapshot id, request) → the answer."""
        self.newest: dict[tuple, int] = {}
        """request → the newest snapshot it has a kept answer of."""
        self.pending: dict[tuple, Pending] = {}
        self.failed: set[tuple] = set()
        """Keys whose background computation failed: their requests wait for the error."""
        self.refreshing: set[asyncio.Task] = set()
        self.moments: dict[str, int] = {}
        """known_at → snapshot id, for moments already past: those never change."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":  # the GET's answer and headers, no body (`curl -I`)
            await self({**scope, "method": "GET"}, receive, _without_body(send))
            return
        parameters = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        snapshot_id = await self._snapshot_id(parameters.get("known_at"))
        if snapshot_id is None:  # the route says what is wrong (no warehouse, a bad moment)
            await self.app(scope, receive, send)
            return
        today = moscow_today()
        request = (scope["method"], today, scope["path"], tuple(sorted(parameters.items())))
        key = (snapshot_id, request)
        served = key if key in self.answers else None
        older = self.newest.get(request, snapshot_id)
        if served is None and older < snapshot_id and key not in self.failed:
            served = (older, request)  # while the new snapshot's answer is computed
            if key not in self.pending:
                self._refresh(key, scope, parameters, today)
        if served is None and await self._waited(key):
            served = key
        if served is None:
            await self._compute(key, scope, receive, send, parameters, today)
            return
        answer = self.answers[served]
        self.answers.move_to_end(served)
        if _header(answer, b"etag") in _if_none_match(scope):
            await send({"type": "http.response.start", "status": 304, "headers": [
                (name, value) for name, value in answer.headers
                if name in (b"etag", b"cache-control", b"sco-snapshot")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _snapshot_id(self, known_at: str | None) -> int | None:
        try:
            reader = self.readers.reader
            if not known_at:
                return reader.latest_id()  # a stat of the catalog file, mostly
            if known_at in self.moments:
                return self.moments[known_at]
            moment = dt.datetime.fromisoformat(known_at.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            found = await run_in_threadpool(reader.id_at, moment)
        except Exception:  # the route reports it, in its own words
            return None
        if moment < utc_now() - dt.timedelta(seconds=5):
            self.moments[known_at] = found
        return found

    async def _waited(self, key: tuple) -> bool:
        """Whether `key` has a kept answer after its computation under way, if any, ended."""
        pending = self.pending.get(key)
        if pending is not None:
            await pending.done.wait()
        return key in self.answers

    def _refresh(self, key: tuple, scope: Scope, parameters: dict[str, str],
                 today: dt.date) -> None:
        """Compute `key`'s answer in the background, for the requests to come."""
        asked = asyncio.Event()

        async def nothing() -> Message:
            # The request's (empty) body once; then, like a client that stays, nothing: a
            # streamed answer listens for a disconnect until it is done.
            if not asked.is_set():
                asked.set()
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()
            raise AssertionError("unreachable: the answer cancels its listener when done")

        async def drop(message: Message) -> None:
            return None

        copy = {**scope, "state": {}, "headers": [
            (name, value) for name, value in scope.get("headers", []) if name != b"if-none-match"]}
        self.pending[key] = Pending()  # now: requests until the task runs must not start another
        task = asyncio.get_running_loop().create_task(
            self._compute(key, copy, nothing, drop, parameters, today, background=True))
        self.refreshing.add(task)
        task.add_done_callback(self.refreshing.discard)

    async def _compute(self, key: tuple, scope: Scope, receive: Receive, send: Send,
                       parameters: dict[str, str], today: dt.date,
                       background: bool = False) -> None:
        """Run the app for `key` (its snapshot in `request.state`), keep a 200 answer."""
        snapshot_id, request = key
        scope.setdefault("state", {})["snapshot_id"] = snapshot_id
        digest = hashlib.blake2b(repr(request).encode(), digest_size=8).hexdigest()
        ours = [(b"etag", f'"s{snapshot_id}-{digest}"'.encode()),
                (b"cache-control", cache_control(parameters, today).encode()),
                (b"sco-snapshot", str(snapshot_id).encode())]
        if not background and ours[0][1] in _if_none_match(scope):  # kept by an earlier process
            await send({"type": "http.response.start", "status": 304, "headers": ours})
            await send({"type": "http.response.body", "body": b""})
            return
        pending = self.pending.setdefault(key, Pending())
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] | None = []

        async def keep(message: Message) -> None:
            nonlocal headers, chunks
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    headers = _merged(message["headers"], ours)
                    message = {**message, "headers": headers}
                else:
                    chunks = None
            elif message["type"] == "http.response.body" and chunks is not None:
                chunks.append(message.get("body", b""))
                if sum(map(len, chunks)) > self.max_body:
                    chunks = None
                elif not message.get("more_body", False):
                    self._store(key, Answer(headers, b"".join(chunks)))
            await send(message)

        try:
            await self.app(scope, receive, keep)
        finally:
            self.pending.pop(key, None)
            if background and key not in self.answers:
                if len(self.failed) >= self.entries:
                    self.failed.clear()
                self.failed.add(key)  # so that its requests get the error, not an old answer
            pending.done.set()

    def _store(self, key: tuple, answer: Answer) -> None:
        snapshot_id, request = key
        self.answers[key] = answer
        if self.newest.get(request, -1) < snapshot_id:
            self.newest[request] = snapshot_id
        while len(self.answers) > self.entries:
            (old_id, old_request), _ = self.answers.popitem(last=False)
            if self.newest.get(old_request) == old_id:
                del self.newest[old_request]


def _header(answer: Answer, name: bytes) -> bytes | None:
    return next((value for key, value in answer.headers if key == name), None)


def _merged(headers: list[tuple[bytes, bytes]],
            ours: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {name for name, _ in ours}
    return [(name, value) for name, value in headers if name.lower() not in names] + ours


def _if_none_match(scope: Scope) -> set[bytes]:
    for name, value in scope.get("headers", []):
        if name == b"if-none-match":
            return {tag.strip() for tag in value.split(b",")}
    return set()


def _without_body(send: Send) -> Send:
    """`send` for a HEAD request: the answer's start and headers, its body left out."""
    async def headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return headers_only
