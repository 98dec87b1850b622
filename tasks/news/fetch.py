"""Fetching news sources with conditional GET, and the per-source state that makes it work.

The state (`feed_state`) keeps ETag and Last-Modified exactly as the server sent them, so a
304 costs neither parsing nor writing. Losing it costs only bandwidth.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import pyarrow as pa

from sco_etl.schemas.errors import SourceError
from sco_etl.schemas.news import FEED_STATE
from sco_etl.tasks.http import HttpClient, HttpPolicy, Response
from sco_etl.tasks.news.settings import (
    ARTICLE_ATTEMPTS,
    ARTICLES_TIMEOUT,
    FEED_ACCEPT,
    FEED_ATTEMPTS,
    PARSER_VERSION,
    SOURCES_TIMEOUT,
)


@dataclass
class SourceFetch:
    """The answer of one source: a response (200 or 304), or why there is none."""

    source: str
    response: Response | None = None
    error: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.response is not None and self.response.status == 304


@dataclass
class SourceFetches:
    """Every source's answer, and how many HTTP requests they took."""

    fetches: list[SourceFetch]
    requests_made: int


def feed_client(policy: HttpPolicy) -> HttpClient:
    """The HTTP seam for feeds and listing pages, with the run's politeness settings."""
    return HttpClient(replace(policy, attempts=FEED_ATTEMPTS, budget=SOURCES_TIMEOUT))


def article_client(policy: HttpPolicy, share: int = 1) -> HttpClient:
    """The HTTP seam for article pages: fewer attempts, since a failure is retried next run.

    `share` clients fetching at once each pace themselves to keep the policy's rate together.
    """
    return HttpClient(replace(policy, attempts=ARTICLE_ATTEMPTS, budget=ARTICLES_TIMEOUT,
                              min_interval=policy.min_interval * max(1, share)))


def conditional_headers(state: Mapping | None) -> dict[str, str]:
    """Request headers for a source: the stored validators, sent back unchanged."""
    headers = {"Accept": FEED_ACCEPT}
    if state and state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state and state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


def fetch_sources(policy: HttpPolicy, sources: list[str], states: pa.Table,
                  workers: int) -> SourceFetches:
    """GET every source, a few at a time; a source that fails does not stop the others."""
    client = feed_client(policy)
    known = {row["source"]: row for row in states.to_pylist()}

    def fetch(source: str) -> SourceFetch:
        try:
            response = client.get(source, headers=conditional_headers(known.get(source)),
                                  ok=(200, 304))
        except SourceError as e:
            return SourceFetch(source, error=str(e))
        return SourceFetch(source, response)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="feed") as pool:
        fetches = list(pool.map(fetch, sources))
    return SourceFetches(fetches, client.requests_made)


def body_hash(body: bytes) -> str:
    """Identifies a document (and the parser that read it) when a server sends no validators."""
    return hashlib.sha256(PARSER_VERSION.encode() + b"\0" + body).hexdigest()


def next_state(
    previous: Mapping | None, source: str, now: dt.datetime, status: str, *,
    message: str | None = None, kind: str | None = None,
    headers: Mapping[str, str] | None = None, replace_validators: bool = False,
    document_hash: str | None = None,
) -> dict:
    """The source's state after this fetch.

    A clean 200 replaces both validators with the response's, verbatim (a changed ETag with the
    same Last-Modified must still replace the ETag). A 304 refreshes those it carries. A failed
    or degraded fetch keeps the old ones, so the next run asks for the full document again.
    """
    row = dict(previous) if previous else {
        "source": source, "kind": None, "etag": None, "last_modified": None,
        "body_hash": None, "status": status, "message": None, "status_since": now,
    }
    if headers is not None and replace_validators:
        row["etag"] = headers.get("ETag")
        row["last_modified"] = headers.get("Last-Modified")
    elif headers is not None:
        row["etag"] = headers.get("ETag") or row["etag"]
        row["last_modified"] = headers.get("Last-Modified") or row["last_modified"]
    if kind is not None:
        row["kind"] = kind
    if document_hash is not None:
        row["body_hash"] = document_hash
    if row["status"] != status:
        row["status_since"] = now
    row["status"] = status
    row["message"] = message
    return row


def merge_states(stored: pa.Table, updated: list[dict]) -> pa.Table:
    """Stored states with this run's replacing theirs; sources not fetched now stay."""
    rows = {row["source"]: row for row in stored.to_pylist()}
    rows.update({row["source"]: row for row in updated})
    return pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=FEED_STATE.arrow_schema)
