"""The news HTTP seam: sources fetched with conditional GET, article pages fetched and read,
and the per-source state (`feed_state`) that makes conditional GET work.

The state keeps ETag and Last-Modified exactly as the server sent them, so a 304 costs
neither parsing nor writing. Losing it costs only bandwidth. Every client is built with the
run, which counts the requests and hears of the retries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas.errors import SourceError
from sco_etl.schemas.news import FEED_STATE
from sco_etl.tasks.http import HttpClient, HttpPolicy, Response
from sco_etl.tasks.news.articles import extract_article
from sco_etl.tasks.news.settings import (
    ARTICLE_ACCEPT,
    ARTICLE_ATTEMPTS,
    ARTICLES_TIMEOUT,
    FEED_ACCEPT,
    FEED_ATTEMPTS,
    PARSER_VERSION,
    SOURCES_TIMEOUT,
)
from sco_etl.tasks.run import Run
from sco_etl.warehouse import Warehouse

log = logging.getLogger(__name__)

ARTICLE_PAGES = pa.schema([
    pa.field("link", pa.string()),
    pa.field("body", pa.string()),
    pa.field("author", pa.string()),
    pa.field("published_at", pa.timestamp("us", tz="UTC")),
    pa.field("error", pa.string()),
])
"""One row per article page asked: what it says, or the `error` (a cause in words:
`HTTP 404`, `no article text on the page`) that left it without a body."""


@dataclass
class SourceFetch:
    """The answer of one source: a response (200 or 304), or why there is none (a cause in
    words: `DNS lookup failed (host not found)`, `HTTP 404`)."""

    source: str
    response: Response | None = None
    error: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.response is not None and self.response.status == 304


@task(name="read-feed-state", cache_policy=NO_CACHE)
def read_feed_state(warehouse: Warehouse) -> pa.Table:
    """The stored validators and last status of every source."""
    return warehouse.read(FEED_STATE)


# Timeouts: each network task's client gives up after its budget (`SOURCES_TIMEOUT`,
# `ARTICLES_TIMEOUT`), enforced in the HTTP seam between socket reads: a Prefect timeout
# cannot interrupt a task running in a worker thread.
@task(name="fetch-news-sources", cache_policy=NO_CACHE)
def fetch_sources(policy: HttpPolicy, sources: list[str], states: pa.Table, workers: int,
                  run: Run) -> list[SourceFetch]:
    """GET every source, a few at a time; a source that fails does not stop the others."""
    client = HttpClient(replace(policy, attempts=FEED_ATTEMPTS, budget=SOURCES_TIMEOUT), run=run)
    known = {row["source"]: row for row in states.to_pylist()}

    def fetch(source: str) -> SourceFetch:
        try:
            response = client.get(source, headers=conditional_headers(known.get(source)),
                                  ok=(200, 304))
        except SourceError as e:
            return SourceFetch(source, error=e.cause or str(e))
        run.fetched()
        return SourceFetch(source, response)

    run.planned(len(sources))
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="feed") as pool:
        return list(pool.map(fetch, sources))


@task(name="fetch-articles", cache_policy=NO_CACHE)
def fetch_articles(policy: HttpPolicy, links: list[str], share: int, run: Run) -> pa.Table:
    """Fetch and read each page in turn (`ARTICLE_PAGES` rows), paced as one of `share`
    fetches running at once so that together they keep the policy's rate."""
    client = HttpClient(replace(policy, attempts=ARTICLE_ATTEMPTS, budget=ARTICLES_TIMEOUT,
                                min_interval=policy.min_interval * max(1, share)), run=run)
    rows = [_fetch_article(client, link, run) for link in links]
    return pa.Table.from_pylist(rows, schema=ARTICLE_PAGES)


def _fetch_article(client: HttpClient, link: str, run: Run) -> dict:
    try:
        response = client.get(link, headers={"Accept": ARTICLE_ACCEPT})
        run.fetched()
        article = extract_article(response.body, response.url, response.headers)
    except SourceError as e:
        return {"link": link, "error": e.cause or str(e)}
    except Exception as e:  # a parser bug on one page must not lose the run's other pages
        log.warning("article extraction failed for %s", link, exc_info=True)
        return {"link": link, "error": f"extraction failed: {type(e).__name__}: {e}"}
    return {"link": link, "body": article.body, "author": article.author,
            "published_at": article.published_at}


def conditional_headers(state: Mapping | None) -> dict[str, str]:
    """Request headers for a source: the stored validators, sent back unchanged."""
    headers = {"Accept": FEED_ACCEPT}
    if state and state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state and state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


def body_hash(body: bytes) -> str:
    """Identifies a document (and the parser that read it) when a server sends no validators."""
    return hashlib.sha256(PARSER_VERSION.encode() + b"\0" + body).hexdigest()


def next_state(
    previous: Mapping | None, source: str, now: dt.datetime, status: str, *,
    message: str | None = None, kind: str | None = None,
    headers: Mapping[str, str] | None = None, replace_validators: bool = False,
    document_hash: str | None = None,
) -> dict:
    """The source's state after this fetch. A clean 200 replaces both validators with the
    response's, verbatim (a changed ETag with the same Last-Modified must still replace the
    ETag); a 304 refreshes those it carries; a failed or degraded fetch keeps the old ones, so
    the next run asks for the full document again."""
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
