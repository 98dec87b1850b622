"""Answers cached per warehouse snapshot: a hot request costs a lookup, a repeat costs a 304.

Every answer of the app is a function of the request and the snapshot it reads (and, for a
request without a date, of Moscow's today). So this ASGI middleware picks the snapshot first
— the newest one, or the one current at `known_at` — tells the route which one to read
(`request.state.snapshot_id`), derives the ETag from both, and keeps successful answers in
memory under that key. A commit makes a new snapshot and so new keys; nothing needs
invalidating. Concurrent misses of one key wait for one computation.
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
    """A kept answer: its status line's headers and its body."""

    status: int
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
        self.pending: dict[tuple, Pending] = {}
        self.moments: dict[str, int] = {}
        """known_at → snapshot id, for moments already past: those never change."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        parameters = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        snapshot_id = await self._snapshot_id(parameters.get("known_at"))
        if snapshot_id is None:  # the route says what is wrong (no warehouse, a bad moment)
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["snapshot_id"] = snapshot_id
        today = moscow_today()
        key = (snapshot_id, today, scope["path"], tuple(sorted(parameters.items())))
        digest = hashlib.blake2b(repr(key[1:]).encode(), digest_size=8).hexdigest()
        etag = f'"s{snapshot_id}-{digest}"'.encode()
        headers = [(b"etag", etag), (b"cache-control", cache_control(parameters, today).encode()),
                   (b"sco-snapshot", str(snapshot_id).encode())]
        if etag in _if_none_match(scope):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        answer = await self._kept(key)
        if answer is not None:
            await _replay(answer, send, scope["method"] == "HEAD")
            return
        await self._compute(key, scope, receive, send, headers)

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

    async def _kept(self, key: tuple) -> Answer | None:
        while True:
            answer = self.answers.get(key)
            if answer is not None:
                self.answers.move_to_end(key)
                return answer
            pending = self.pending.get(key)
            if pending is None:
                return None
            await pending.done.wait()
            if key not in self.answers:
                return None  # the first one could not be kept: compute our own

    async def _compute(self, key: tuple, scope: Scope, receive: Receive, send: Send,
                       headers: list[tuple[bytes, bytes]]) -> None:
        pending = self.pending[key] = Pending()
        start: Message | None = None
        chunks: list[bytes] | None = []

        async def keep(message: Message) -> None:
            nonlocal start, chunks
            if message["type"] == "http.response.start":
                start = message
                if message["status"] == 200:
                    message = {**message, "headers": _merged(message["headers"], headers)}
                else:
                    chunks = None
            elif message["type"] == "http.response.body" and chunks is not None:
                chunks.append(message.get("body", b""))
                if sum(map(len, chunks)) > self.max_body:
                    chunks = None
                elif not message.get("more_body", False):
                    self._store(key, Answer(200, _merged(start["headers"], headers),
                                            b"".join(chunks)))
            await send(message)

        try:
            await self.app(scope, receive, keep)
        finally:
            del self.pending[key]
            pending.done.set()

    def _store(self, key: tuple, answer: Answer) -> None:
        self.answers[key] = answer
        while len(self.answers) > self.entries:
            self.answers.popitem(last=False)


async def _replay(answer: Answer, send: Send, head_only: bool) -> None:
    await send({"type": "http.response.start", "status": answer.status,
                "headers": answer.headers})
    await send({"type": "http.response.body", "body": b"" if head_only else answer.body})


def _merged(headers: list[tuple[bytes, bytes]],
            ours: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {name for name, _ in ours}
    return [(name, value) for name, value in headers if name.lower() not in names] + ours


def _if_none_match(scope: Scope) -> set[bytes]:
    for name, value in scope.get("headers", []):
        if name == b"if-none-match":
            return {tag.strip() for tag in value.split(b",")}
    return set()
