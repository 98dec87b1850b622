"""The planner: what the fetched documents say, what the warehouse knows of their items, and
which article pages to fetch.

A source that fails is reported, not raised: the other sources go on and are written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas import COUNTRY_TERMS
from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.news.client import SourceFetch, body_hash, next_state
from sco_etl.tasks.news.documents import parse_document
from sco_etl.tasks.news.normalise import Candidates, concat, normalise_document
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.news import known_news


@dataclass
class SourceReport:
    """How one source went; `error`: why it gave nothing, in words (`HTTP 404`, …)."""

    source: str
    kind: str | None = None
    fetch: str = ""
    items: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class ReadSources:
    """Every source's candidates, its next `feed_state` row, and its report."""

    candidates: Candidates
    states: list[dict]
    reports: list[SourceReport]


@dataclass
class Plan:
    """What the warehouse knows that this run needs (`warehouse.news.known_news`), the country
    terms mentions are found with, and the article pages to fetch, newest items first."""

    rows: pa.Table
    urls: pa.Table
    terms: pa.Table
    links: list[str]


@task(name="read-news-sources", cache_policy=NO_CACHE)
def read_sources(fetches: list[SourceFetch], stored_states: pa.Table) -> ReadSources:
    """Read what changed: a 304, or a document identical to the last one, is not parsed."""
    now = utc_now()
    previous = {row["source"]: row for row in stored_states.to_pylist()}
    parts, states, reports = [], [], []
    for fetch in fetches:
        before = previous.get(fetch.source)
        report = SourceReport(fetch.source, kind=(before or {}).get("kind"))
        reports.append(report)
        response = fetch.response
        if response is None:
            report.fetch, report.error = "failed", fetch.error
            states.append(next_state(before, fetch.source, now, "failed", message=fetch.error))
            continue
        if fetch.not_modified:
            report.fetch = "304 not modified"
            states.append(next_state(before, fetch.source, now, "ok", headers=response.headers))
            continue
        digest = body_hash(response.body)
        if before is not None and before["body_hash"] == digest:
            report.fetch = "200, same document as last time"
            states.append(next_state(before, fetch.source, now, "ok", headers=response.headers,
                                     replace_validators=True))
            continue
        report.fetch = f"{response.status}, {len(response.body)} bytes"
        try:
            document = parse_document(response.body, response.url, response.headers)
        except SourceFormatError as e:
            report.error = e.cause or str(e)
            states.append(next_state(before, fetch.source, now, "failed", message=report.error))
            continue
        report.kind, report.items, report.warnings = (
            document.kind, len(document.items), document.warnings)
        parts.append(normalise_document(fetch.source, document))
        states.append(next_state(
            before, fetch.source, now, "degraded" if document.degraded else "ok",
            message="; ".join(document.warnings) or None, kind=document.kind,
            headers=response.headers, replace_validators=not document.degraded,
            document_hash=None if document.degraded else digest,
        ))
    return ReadSources(concat(parts), states, reports)


@task(name="plan-news-articles", cache_policy=NO_CACHE)
def plan_articles(warehouse: Warehouse, candidates: Candidates, sources: list[str],
                  max_attempts: int, limit: int) -> Plan:
    """What the warehouse knows of this run's items and of up to `limit` waiting for their
    article page, and the pages to fetch (at most `limit`; none with a `limit` of 0)."""
    rows, urls = known_news(warehouse, candidates.rows.select(["item_id", "url"]), sources,
                            max_attempts, limit)
    links = article_links(candidates.rows, rows, max_attempts, limit)
    return Plan(rows, urls, warehouse.read(COUNTRY_TERMS), links)


def wants_article(stored: dict | None, max_attempts: int) -> bool:
    """Whether an item's article page is still to be read: never asked, or failed fewer than
    `max_attempts` times. A page read once is not asked again, even when the feed's own text
    stayed the better body."""
    return stored is None or (stored["article_attempts"] < max_attempts and (
        stored["article_attempts"] == 0 or stored["article_error"] is not None))


def article_links(candidates: pa.Table, known: pa.Table, max_attempts: int,
                  limit: int) -> list[str]:
    """Pages to fetch: new items' and those still waiting, newest first, at most `limit`."""
    stored = {row["item_id"]: row for row in known.to_pylist()}
    wanted: dict[str, dt.datetime] = {}
    floor = dt.datetime.min.replace(tzinfo=dt.UTC)
    in_documents = set(candidates["item_id"].to_pylist())
    rows = candidates.select(["item_id", "source", "link", "published_at"]).to_pylist() + [
        row for row in stored.values() if row["item_id"] not in in_documents
    ]
    for row in rows:
        if not same_site(row["source"], row["link"]):
            continue  # a feed must not make us request another host (SSRF): issue 5
        if wants_article(stored.get(row["item_id"]), max_attempts):
            when = row["published_at"] or floor
            wanted[row["link"]] = max(when, wanted.get(row["link"], floor))
    return sorted(wanted, key=lambda link: wanted[link], reverse=True)[:limit]


def same_site(source: str, link: str) -> bool:
    """Whether `link` is on the source's own site: the same host, or one a subdomain of the
    other, a leading `www.` aside (`rss.x.ru` and `www.x.ru` are one site), on the same port.

    Article pages are fetched only there: an item linking elsewhere (an internal address, a
    cloud metadata endpoint) is stored as data, never requested.
    """
    ours, theirs = urlsplit(source), urlsplit(link)
    try:
        same_port = ours.port == theirs.port
    except ValueError:
        return False
    mine, other = ((parts.hostname or "").rstrip(".").removeprefix("www.")
                   for parts in (ours, theirs))
    return bool(mine and other) and same_port and (
        mine == other or mine.endswith("." + other) or other.endswith("." + mine))
