"""Pure parsers of what a news source serves: an RSS 2.0 / Atom feed (through feedparser) or
an HTML headline listing, for sites without a feed (the InfoSHOS layout).

`parse_document` takes the raw bytes and the response headers, never a guessed text
decoding, tells which kind the bytes are and reads them one way; it returns the items as the
document states them, and `tasks/news/normalise.py` normalises them.

A listing's headline is a link paired with a `dd.mm.yyyy HH:MM` date: in the same block (a list
item holding both), or in the block just before it (a table row with the date, then a row with
the link). Links without a date are navigation and are ignored.
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
from bs4 import BeautifulSoup, Tag

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.news.fields import header_charset

FEED_ROOT = re.compile(rb"<(?:[\w-]+:)?(?:rss|feed|rdf)[\s>]", re.IGNORECASE)
HTML_ROOT = re.compile(rb"<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE)
FEED_END = re.compile(rb"</(?:[\w-]+:)?(?:rss|feed|rdf)\s*>\s*$", re.IGNORECASE)
ITEM_END = re.compile(rb"</(?:[\w-]+:)?(?:item|entry)\s*>", re.IGNORECASE)
SNIFF_BYTES = 4096
DATE_TEXT = re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{4}\s+\d{1,2}:\d{2}\b")
WHOLE_DATE = re.compile(r"^\s*\d{1,2}\.\d{1,2}\.\d{4}\s+\d{1,2}:\d{2}\s*$")
TOP_LEVEL = {"body", "html", "[document]"}


@dataclass
class FeedItem:
    """One item as the document states it, before normalisation: title text or HTML as given,
    the link as written (possibly relative), the guid verbatim, the raw date and feedparser's
    own UTC reading of it (for shapes we do not parse), the summary (or Atom content without
    one) and the full text the feed carries (Atom `content`, RSS `content:encoded`) as HTML;
    `complete` is False for an item cut off by a truncated document."""

    title: str | None
    link: str | None
    guid: str | None = None
    published: str | None = None
    published_fallback: time.struct_time | None = None
    summary_html: str | None = None
    content_html: str | None = None
    author: str | None = None
    language: str | None = None
    complete: bool = True


@dataclass
class ParsedDocument:
    """What one fetched document (rss, atom or listing) holds, items in document order.

    `base_url` is what relative item links resolve against: the feed's site link (as Miniflux
    does; query-relative links like `?idn=1` only make sense there), or the document URL. A
    `degraded` document (not well-formed or truncated) keeps no validators, so the next run
    fetches it again; `warnings` say what was wrong with a document that still gave items.
    """

    kind: str
    base_url: str
    items: list[FeedItem]
    warnings: list[str] = field(default_factory=list)
    degraded: bool = False
    language: str | None = None


def parse_document(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedDocument:
    """A feed or a listing page, whichever the bytes are (SourceFormatError: neither)."""
    if not body.strip():
        raise SourceFormatError(f"{url}: empty response body; the server sent nothing",
                                url=url, cause="empty response")
    if detect_kind(body, url, headers.get("Content-Type")) == "feed":
        return parse_feed(body, url, headers)
    return parse_listing(body, url, headers)


def detect_kind(body: bytes, url: str, content_type: str | None = None) -> str:
    """`feed` or `listing`, from the bytes first (servers mislabel feeds as text/html)."""
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
        f"{url}: the document is neither an RSS/Atom feed nor an HTML page (content type "
        f"{media!r}, starts {body[:40]!r}); check the source URL",
        url=url, cause=f"not a feed (a {media or 'untyped'} document)")


def parse_feed(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedDocument:
    """RSS 2.0 or Atom bytes as items, with feedparser. A feed that is not well-formed but
    still gives items is degraded, not failed; items of a truncated document after the last
    closed one are marked incomplete."""
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
        raise SourceFormatError(f"{url}: not a readable feed ({problem or 'truncated'})",
                                url=url, cause="not a readable feed")
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
        content_html=_content(entry),
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


def _content(entry: Mapping) -> str | None:
    for detail in dict.get(entry, "content") or []:
        value = detail.get("value") or ""
        if value.strip() and detail.get("type") == "text/plain":
            return "".join(f"<p>{html.escape(part, quote=False)}</p>"
                           for part in re.split(r"\n\s*\n", value))
        if value.strip():
            return value
    return None


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


def parse_listing(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedDocument:
    """The dated headlines of a listing page, in page order; links are left as written
    (resolved later against the page URL or its `<base href>`)."""
    soup = BeautifulSoup(body, "lxml", from_encoding=header_charset(headers))
    base = soup.find("base", href=True)
    base_url = str(base["href"]) if base else url
    root = soup.find("html")
    language = (str(root.get("lang")) if root and root.get("lang") else None) or headers.get(
        "Content-Language")
    items = []
    for anchor in soup.find_all("a", href=True):
        title = anchor.get_text(" ", strip=True)
        date = _date_for(anchor) if title else None
        if date is not None:
            items.append(FeedItem(title=title, link=str(anchor["href"]), published=date,
                                  language=language))
    if not items:
        raise SourceFormatError(
            f"{url}: no dated headlines (a 'dd.mm.yyyy HH:MM' date beside a link) on the page; "
            "is this the site's news list?", url=url, cause="no dated headlines on the page")
    return ParsedDocument("listing", base_url, items, language=language)


def _date_for(anchor: Tag) -> str | None:
    # Climb while the block holds only this link: a date inside it belongs to the link.
    block: Tag = anchor
    while block.parent is not None and block.parent.name not in TOP_LEVEL and (
        len(block.parent.find_all("a", href=True, limit=2)) == 1
    ):
        block = block.parent
        date = _date_in(block, anchor)
        if date:
            return date
    # Otherwise a block just before it that is nothing but a date ("a date line, then the link").
    previous = block.find_previous_sibling()
    if previous is not None and WHOLE_DATE.match(previous.get_text(" ")):
        return " ".join(previous.get_text(" ").split())
    return None


def _date_in(block: Tag, anchor: Tag) -> str | None:
    for text in block.find_all(string=True):
        if anchor in text.parents:
            continue
        match = DATE_TEXT.search(text)
        if match:
            return match.group(0)
    return None
