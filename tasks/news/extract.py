"""The news work: read fetched documents, join them with the warehouse, write one transaction.

Plain functions; `tasks/news/prefect_tasks.py` wraps them as Prefect tasks. A source that fails is
reported, not raised: the other sources go on and are written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from sco_etl.schemas import COUNTRY_TERMS
from sco_etl.schemas.clock import utc_now
from sco_etl.schemas.errors import SourceFormatError, ValidationFailure
from sco_etl.schemas.news import NEWS
from sco_etl.schemas.table import Rejection, Validated, validate
from sco_etl.tasks.news.documents import document_kind, read_document
from sco_etl.tasks.news.feeds import ParsedDocument, parse_feed
from sco_etl.tasks.news.fetch import SourceFetch, body_hash, next_state
from sco_etl.tasks.news.listing import parse_listing
from sco_etl.tasks.news.mentions import compile_matchers, find_mentions
from sco_etl.tasks.news.normalise import Candidates, concat
from sco_etl.tasks.news.rows import NewsBatch, article_links, build_rows
from sco_etl.tasks.run import Run
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.news import known_news, reusable_items


@dataclass
class SourceReport:
    """How one source went, for the artifact, the log and the loads message."""

    source: str
    kind: str | None = None
    fetch: str = ""
    items: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class ParsedSources:
    """Every source's candidates, its next `feed_state` row, and its report."""

    candidates: Candidates
    states: list[dict]
    reports: list[SourceReport]


@dataclass
class Known:
    """What the warehouse knows that this run needs: rows it may change, the items sharing a
    url with them, and the country terms their mentions are found with."""

    rows: pa.Table
    urls: pa.Table
    terms: pa.Table


def parse_document(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedDocument:
    """A feed or a listing page, whichever the bytes are.

    Raises:
        SourceFormatError: neither, or nothing readable in it.
    """
    if document_kind(body, url, headers) == "feed":
        return parse_feed(body, url, headers)
    return parse_listing(body, url, headers)


def read_reusable(warehouse: Warehouse, sources: list[str], with_articles: bool) -> pa.Table:
    """(source, raw_hash, item_id) of the stored items an unchanged document leaves alone."""
    return reusable_items(warehouse, sources, with_articles)


def parse_sources(fetches: list[SourceFetch], stored_states: pa.Table,
                  reusable: pa.Table | None = None) -> ParsedSources:
    """Parse what changed; a 304 or a document identical to the last one is not parsed, and
    of a changed one only the items whose raw hash is not among `reusable`
    (`read_reusable`)."""
    now = utc_now()
    previous = {row["source"]: row for row in stored_states.to_pylist()}
    hashes: dict[str, dict[str, str]] = {}
    for row in (reusable.to_pylist() if reusable is not None else []):
        hashes.setdefault(row["source"], {})[row["raw_hash"]] = row["item_id"]
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
            reading = read_document(fetch.source, response.body, response.url,
                                    response.headers, hashes.get(fetch.source, {}))
        except SourceFormatError as e:
            report.error = str(e)
            states.append(next_state(before, fetch.source, now, "failed", message=str(e)))
            continue
        document = reading.document
        report.kind, report.items, report.warnings = (
            document.kind, reading.items, document.warnings)
        parts.append(reading.candidates)
        states.append(next_state(
            before, fetch.source, now, "degraded" if document.degraded else "ok",
            message="; ".join(document.warnings) or None, kind=document.kind,
            headers=response.headers, replace_validators=not document.degraded,
            document_hash=None if document.degraded else digest,
        ))
    return ParsedSources(concat(parts), states, reports)


def load_known(warehouse: Warehouse, candidates: Candidates, sources: list[str],
               max_attempts: int, waiting: int) -> Known:
    """The stored rows of this run's items, up to `waiting` awaiting an article, and the
    items sharing a url with them."""
    known = known_news(warehouse, candidates.rows.select(["item_id", "url"]), sources,
                       max_attempts, waiting)
    return Known(known.rows, known.urls, warehouse.read(COUNTRY_TERMS))


def plan_articles(candidates: Candidates, known: Known, max_attempts: int,
                  limit: int) -> list[str]:
    """Article pages to fetch this run."""
    return article_links(candidates.rows, known.rows, max_attempts, limit)


def join_rows(candidates: Candidates, known: Known, articles: pa.Table,
              run: Run) -> NewsBatch:
    """News rows as they should now be stored, and the mentions of those that changed (found
    here, not in the write transaction)."""
    batch = build_rows(candidates, known.rows, known.urls, articles, run, utc_now())
    changed = batch.rows.filter(pc.is_in(batch.rows["item_id"], value_set=batch.changed))
    batch.mentions = find_mentions(changed, compile_matchers(known.terms))
    return batch


def validate_news(batch: NewsBatch) -> tuple[Validated, dict[str, str]]:
    """Schema checks per source, so one broken source cannot fail the others.

    Returns the valid rows with every rejection, and the sources whose reject share says the
    source itself is broken (their rows are not written).
    """
    rows, rejected, broken = [], list(batch.rejected), {}
    for source in sorted(set(batch.rows["source"].to_pylist())):
        part = batch.rows.filter(pc.equal(batch.rows["source"], source))
        earlier = [r for r in batch.rejected if r.record.get("source") == source]
        try:
            checked = validate(NEWS, part, earlier)
        except ValidationFailure as e:
            broken[source] = str(e)
            continue
        rows.append(checked.rows)
        rejected += checked.rejected[len(earlier):]
    return Validated(pa.concat_tables(rows or [NEWS.empty()]), rejected), broken


def failed_sources(parsed: ParsedSources, broken: dict[str, str]) -> dict[str, str]:
    """Source → why it gave nothing this run."""
    failures = {r.source: r.error for r in parsed.reports if r.error}
    failures.update({source: f"validation: {why}" for source, why in broken.items()})
    return failures


def rejected_by_source(rejected: list[Rejection]) -> Counter:
    return Counter(str(r.record.get("source")) for r in rejected)


def summary_rows(parsed: ParsedSources, batch: NewsBatch, validated: Validated,
                 failures: dict[str, str]) -> list[dict]:
    """One row per source: what was fetched, new/updated/unchanged/rejected, and any error."""
    rejected = rejected_by_source(validated.rejected)
    rows = []
    for report in parsed.reports:
        counts = batch.counts.get(report.source, Counter())
        broken = report.source in failures
        rows.append({
            "source": report.source, "kind": report.kind or "", "fetch": report.fetch,
            "new": 0 if broken else counts["new"],
            "updated": 0 if broken else counts["updated"],
            "unchanged": 0 if broken else counts["unchanged"],
            "rejected": rejected[report.source],
            "status": "failed" if broken else ("degraded" if report.warnings else "ok"),
            "message": failures.get(report.source) or "; ".join(report.warnings),
        })
    return rows
