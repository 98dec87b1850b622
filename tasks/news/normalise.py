"""Pure normalisation of parsed items into candidate news rows (or quarantine rejections).

A candidate holds what one document says about an item; `tasks/news/rows.py` joins it with
what the warehouse already knows and with the article page.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas.news import NEWS
from sco_etl.schemas.table import Rejection
from sco_etl.tasks.news.documents import FeedItem, ParsedDocument
from sco_etl.tasks.news.fields import (
    absolute_url,
    canonical_url,
    clean_html,
    content_hash,
    item_id,
    parse_published,
    plain_paragraphs,
    plain_text,
)

CANDIDATE_COLUMNS = (
    "item_id", "source", "guid", "url", "link", "title", "summary", "summary_html", "author",
    "language", "published_at", "content_hash",
)
CANDIDATE = pa.schema(
    [pa.field(name, NEWS.column(name).type) for name in CANDIDATE_COLUMNS]
    + [pa.field("date_from", pa.string()), pa.field("feed_body", pa.string())]
)
"""Candidate rows: the document's side of a news row. `date_from` is feed or listing, or null
when the document gave no readable date; `feed_body` is the plain text of the full text the
feed carries (Atom `content`, RSS `content:encoded`), or null."""


@dataclass
class Candidates:
    """The items of one or more documents, normalised: one row per item_id (the last version
    when a document repeats one), the earlier versions it repeated with other content (for
    revisions), and the items that cannot be stored."""

    rows: pa.Table
    superseded: pa.Table
    rejected: list[Rejection]


def normalise_document(source: str, document: ParsedDocument) -> Candidates:
    """Candidates of one document: plain titles, absolute and canonical links, UTC dates.
    Items without a title or an http(s) link, or cut off by truncation, are rejected; of one
    item held twice (same guid, or same canonical link without one) the later wins."""
    by_id: dict[str, dict] = {}
    superseded: list[dict] = []
    rejected: list[Rejection] = []
    for item in document.items:
        record = _candidate(source, document, item)
        if isinstance(record, Rejection):
            rejected.append(record)
            continue
        previous = by_id.pop(record["item_id"], None)
        if previous is not None and previous["content_hash"] != record["content_hash"]:
            superseded.append(previous)
        by_id[record["item_id"]] = record
    return Candidates(
        pa.Table.from_pylist(list(by_id.values()), schema=CANDIDATE),
        pa.Table.from_pylist(superseded, schema=CANDIDATE),
        rejected,
    )


def _candidate(source: str, document: ParsedDocument, item: FeedItem) -> dict | Rejection:
    def reject(reason: str) -> Rejection:
        return Rejection(_raw(source, item), reason)

    if not item.complete:
        return reject("the document was cut off inside this item; read again next run")
    title = plain_text(item.title)
    if not title:
        return reject("item has no title")
    if not item.link or not item.link.strip():
        return reject("item has no link")
    try:
        link = absolute_url(document.base_url, item.link)
        url = canonical_url(link)
    except ValueError as e:
        return reject(str(e))
    summary_html = clean_html(item.summary_html, link)
    published = parse_published(item.published, item.published_fallback)
    guid = (item.guid or "").strip() or None
    return {
        "item_id": item_id(source, guid, url),
        "source": source,
        "guid": guid,
        "url": url,
        "link": link,
        "title": title,
        "summary": plain_text(summary_html),
        "summary_html": summary_html,
        "author": plain_text(item.author),
        "language": (item.language or "").strip().lower() or None,
        "published_at": published,
        "content_hash": content_hash(url, title, summary_html),
        "date_from": None if published is None else (
            "listing" if document.kind == "listing" else "feed"),
        "feed_body": plain_paragraphs(clean_html(item.content_html, link)),
    }


def _raw(source: str, item: FeedItem) -> dict:
    # Only what the document said, so the same bad item quarantined twice is one record.
    return {"source": source, "title": item.title, "link": item.link, "guid": item.guid,
            "published": item.published}


def concat(parts: list[Candidates]) -> Candidates:
    return Candidates(
        pa.concat_tables([p.rows for p in parts] or [CANDIDATE.empty_table()]),
        pa.concat_tables([p.superseded for p in parts] or [CANDIDATE.empty_table()]),
        [r for p in parts for r in p.rejected],
    )
