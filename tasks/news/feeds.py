"""Pure parsers of news documents: RSS 2.0 / Atom through feedparser, and what kind a body is.

Every parser takes the raw bytes and the response headers, never a guessed text decoding,
and returns items as the document states them; `tasks/news/normalise.py` normalises them.
"""

from __future__ import annotations

import html
import re
import time
import xml.sax
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import feedparser

from sco_etl.schemas.errors import SourceFormatError

FEED_ROOT = re.compile(rb"<(?:[\w-]+:)?(?:rss|feed|rdf)[\s>]", re.IGNORECASE)
HTML_ROOT = re.compile(rb"<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE)
FEED_END = re.compile(rb"</(?:[\w-]+:)?(?:rss|feed|rdf)\s*>\s*$", re.IGNORECASE)
ITEM_END = re.compile(rb"</(?:[\w-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
SNIFF_BYTES = 4096


@dataclass
class FeedItem:
    """One item as the document states it, before normalisation.

    Attributes:
        title: title text or HTML as given (entities possibly still escaped).
        link: the link as written, possibly relative.
        guid: RSS guid / Atom id, verbatim; None when absent or empty.
        published: the raw date string.
        published_fallback: feedparser's own UTC reading of it, for shapes we do not parse.
        summary_html: summary (or Atom content when there is no summary) as HTML.
        author: author name or address.
        language: the item's or the document's language tag.
        complete: False for an item cut off by a truncated document.
    """

    title: str | None
    link: str | None
    guid: str | None = None
    published: str | None = None
    published_fallback: time.struct_time | None = None
    summary_html: str | None = None
    author: str | None = None
    language: str | None = None
    complete: bool = True


@dataclass
class ParsedDocument:
    """What one fetched document holds.

    Attributes:
        kind: rss, atom or listing.
        base_url: what relative item links resolve against: the feed's site link (as
            Miniflux does; query-relative links like `?idn=1` only make sense there), or the
            document URL.
        items: in document order.
        warnings: what was wrong with a document that still gave items.
        degraded: not well-formed or truncated: its validators are not kept, so the next
            run fetches it again.
        language: the document's own language (the items' unless they say otherwise).
    """

    kind: str
    base_url: str
    items: list[FeedItem]
    warnings: list[str] = field(default_factory=list)
    degraded: bool = False
    language: str | None = None


def detect_kind(body: bytes, content_type: str | None = None) -> str:
    """`feed` or `listing`, from the bytes first (servers mislabel feeds as text/html).

    Raises:
        SourceFormatError: the body is neither a feed nor an HTML page.
    """
    if not body.strip():
        raise SourceFormatError("empty response body (a 200 with nothing in it); the server "
                                "is probably failing, the next run tries again")
    head = body[:SNIFF_BYTES]
    if FEED_ROOT.search(head):
        return "feed"
    if HTML_ROOT.search(head):
        return "listing"
    media = (content_type or "").split(";")[0].strip().lower()
    if media.endswith("xml"):
        return "feed"
    if media == "text/html":
        return "listing"
    raise SourceFormatError(
        f"the document is neither an RSS/Atom feed nor an HTML page (content type {media!r}, "
        f"starts {body[:40]!r}); check the source URL"
    )


def parse_feed(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedDocument:
    """RSS 2.0 or Atom bytes as items, with feedparser.

    A feed that is not well-formed but still gives items is degraded, not failed; items of a
    truncated document after the last closed one are marked incomplete.

    Raises:
        SourceFormatError: nothing readable (no items and a parse error).
    """
    parsed = feedparser.parse(
        body,
        response_headers=_feed_headers(headers),
        # We sanitise with nh3 and resolve links against the site ourselves: faster, and the
        # same rules for every source.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    truncated = not FEED_END.search(body[-512:])
    if not parsed.entries and (problem is not None or truncated):
        raise SourceFormatError(f"{url}: not a readable feed ({problem or 'truncated'})")
    warnings, degraded = [], truncated
    if problem is not None and _is_xml_error(problem):
        degraded = True
        warnings.append(f"feed is not well-formed XML ({problem}); kept what could be read")
    elif problem is not None:
        warnings.append(f"{type(problem).__name__}: {problem}")
    complete = len(ITEM_END.findall(body)) if truncated else len(parsed.entries)
    if truncated:
        warnings.append(f"document truncated: {complete} complete items of "
                        f"{len(parsed.entries)}")
    language = parsed.feed.get("language") or headers.get("Content-Language")
    items = [_feed_item(entry, language, index < complete)
             for index, entry in enumerate(parsed.entries)]
    kind = "atom" if parsed.get("version", "").startswith("atom") else "rss"
    return ParsedDocument(kind, _site_base(parsed.feed.get("link"), url), items, warnings,
                          degraded, language)


def _feed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    # No content-location: feedparser would resolve item links against the feed URL.
    wanted = {"content-type": headers.get("Content-Type"),
              "content-language": headers.get("Content-Language")}
    return {k: v for k, v in wanted.items() if v}


def _feed_item(entry: Mapping, language: str | None, complete: bool) -> FeedItem:
    detail = entry.get("title_detail") or {}
    return FeedItem(
        title=entry.get("title"),
        link=_first(entry.get("link"), _alternate(entry)),
        guid=(entry.get("id") or "").strip() or None,
        # dict.get: feedparser's own get maps a missing `updated` to `published`, with a warning.
        published=dict.get(entry, "published") or dict.get(entry, "updated"),
        published_fallback=(dict.get(entry, "published_parsed")
                            or dict.get(entry, "updated_parsed")),
        summary_html=_summary(entry),
        author=entry.get("author"),
        language=detail.get("language") or language,
        complete=complete,
    )


def _summary(entry: Mapping) -> str | None:
    detail = entry.get("summary_detail")
    if detail is None and entry.get("content"):
        detail = entry["content"][0]
    if not detail or not (detail.get("value") or "").strip():
        return None
    value = detail["value"]
    return html.escape(value, quote=False) if detail.get("type") == "text/plain" else value


def _alternate(entry: Mapping) -> str | None:
    for link in entry.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    return None


def _first(*values: str | None) -> str | None:
    return next((v.strip() for v in values if v and v.strip()), None)


def _site_base(site_link: str | None, url: str) -> str:
    if site_link:
        base = urljoin(url, site_link.strip())
        if urlsplit(base).scheme in ("http", "https"):
            return base
    return url


def _is_xml_error(problem: Exception) -> bool:
    # A mislabelled content type or charset is only a warning; broken XML means the loose
    # parser guessed, so the document is read again next time.
    return isinstance(problem, xml.sax.SAXException)
