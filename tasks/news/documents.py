"""Reading a fetched document: whichever kind the bytes are, and only its new or changed items.

A feed is cut, at the byte level, into its items (`<item>…</item>`, `<entry>…</entry>`) and the
markup around them. An item's raw hash is a blake2b of its bytes, keyed with what it inherits
from the document: the parser version, the content headers, the markup tags around the items
(XML declaration, namespaces, `xml:base`, `xml:lang`) and the site link and language read from
them. An item whose raw hash the warehouse holds for an item a new read would leave as stored
(`warehouse.news.reusable_items`) is neither parsed, normalised nor joined; the others are
parsed from a copy of the document that holds only them. A large feed whose build date
changed but whose items did not is then read in milliseconds instead of seconds.

A strict XML parse reads an element the same wherever its siblings are, so this is exact for
clean documents. Anything else is read whole, and its items get no raw hash (so none of them
is skipped next time either): a truncated, not well-formed or otherwise warned-about document,
items that are not one run of siblings, a parse that does not give back exactly the items cut
out, an unchanged item sharing its item_id with a parsed one.

A listing page is parsed whole (its items are found by walking the HTML); each item is hashed
from what its block gave (title, link, date), so that unchanged ones skip normalising and
joining.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.news.feeds import (
    FEED_END,
    ITEM_END,
    FeedItem,
    ParsedDocument,
    detect_kind,
    parse_feed,
)
from sco_etl.tasks.news.listing import parse_listing
from sco_etl.tasks.news.normalise import UNCHANGED, Candidates, normalise_document
from sco_etl.tasks.news.settings import PARSER_VERSION

ITEM_START = re.compile(rb"<(?:[\w-]+:)?(?:item|entry)[\s>]", re.IGNORECASE)
TAG = re.compile(rb"<[^>]*>")
COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)
# A comment such as "generated in 0.04 s" changes with every build and says nothing about items.
RAW_HASH_BYTES = 16


@dataclass
class Reading:
    """One document as read this run.

    Attributes:
        document: the document; `items` holds only the items that were parsed.
        candidates: their candidates (with raw hashes), and the unchanged items left unparsed.
        items: how many items the document holds, parsed or not.
    """

    document: ParsedDocument
    candidates: Candidates
    items: int


def document_kind(body: bytes, url: str, headers: Mapping[str, str]) -> str:
    """`feed` or `listing`.

    Raises:
        SourceFormatError: an empty body, or neither.
    """
    if not body.strip():
        # Said plainly: the feed parser would call an empty body a truncated feed.
        raise SourceFormatError(f"{url}: empty response body; the server sent nothing")
    return detect_kind(body, headers.get("Content-Type"))


def read_document(source: str, body: bytes, url: str, headers: Mapping[str, str],
                  reusable: Mapping[str, str]) -> Reading:
    """The document's candidates, parsing only the items whose raw hash is not in `reusable`
    (raw hash → item_id of this source's stored items that a new read would leave as they are).

    Raises:
        SourceFormatError: not a feed or listing, or nothing readable in it.
    """
    if document_kind(body, url, headers) == "listing":
        return _read_listing(source, parse_listing(body, url, headers), headers, reusable)
    return _read_feed(source, body, url, headers, reusable)


def cut_items(body: bytes) -> tuple[bytes, list[bytes], bytes] | None:
    """The bytes before the first item, every item, and the bytes after the last; None when
    the items are not one run of siblings (anything but whitespace between two, one inside
    another, one not closed)."""
    starts = [match.start() for match in ITEM_START.finditer(body)]
    if not starts:
        return None
    items, position = [], starts[0]
    for index, start in enumerate(starts):
        if start < position or body[position:start].strip():
            return None
        end = ITEM_END.search(body, start)
        if end is None or (index + 1 < len(starts) and starts[index + 1] < end.start()):
            return None
        items.append(body[start:end.end()])
        position = end.end()
    return body[:starts[0]], items, body[position:]


def document_key(frame: ParsedDocument, head: bytes, tail: bytes,
                 headers: Mapping[str, str]) -> bytes:
    """What every item of a feed inherits from the document around it, as a blake2b key."""
    digest = hashlib.blake2b(digest_size=32)
    for value in (PARSER_VERSION, frame.kind, frame.base_url, frame.language or "",
                  headers.get("Content-Type") or "", headers.get("Content-Language") or ""):
        digest.update(value.encode() + b"\0")
    digest.update(head[:head.find(b"<")] + b"\0")  # a byte order mark, if any
    for part in (head, tail):
        digest.update(b"".join(TAG.findall(COMMENT.sub(b"", part))) + b"\0\0")
    return digest.digest()


def raw_hash(raw: bytes, key: bytes) -> str:
    """The raw hash of an item's bytes, keyed with its document's `document_key`."""
    return hashlib.blake2b(raw, digest_size=RAW_HASH_BYTES, key=key).hexdigest()


def _read_feed(source: str, body: bytes, url: str, headers: Mapping[str, str],
               reusable: Mapping[str, str]) -> Reading:
    cut = None if not FEED_END.search(body[-512:]) else cut_items(body)
    frame = _frame(cut, url, headers)
    if cut is None or frame is None:
        return _whole(source, parse_feed(body, url, headers))
    head, raws, tail = cut
    key = document_key(frame, head, tail, headers)
    hashes = [raw_hash(raw, key) for raw in raws]
    kept = [index for index, digest in enumerate(hashes) if digest not in reusable]
    if len(kept) < len(raws):
        reduced = head + b"".join(raws[index] for index in kept) + tail
        document = parse_feed(reduced, url, headers) if kept else frame
        if _clean(document, frame, len(kept)):
            skipped = [digest for digest in hashes if digest in reusable]
            reading = _candidates(source, document, [hashes[index] for index in kept],
                                  [reusable[digest] for digest in skipped], len(raws))
            if reading is not None:
                return reading
    document = parse_feed(body, url, headers)
    if not _clean(document, frame, len(raws)):
        return _whole(source, document)
    return _candidates(source, document, hashes, [], len(raws))


def _frame(cut: tuple[bytes, list[bytes], bytes] | None, url: str,
           headers: Mapping[str, str]) -> ParsedDocument | None:
    """The document without its items, parsed: what the items inherit; None unless clean."""
    if cut is None:
        return None
    try:
        frame = parse_feed(cut[0] + cut[2], url, headers)
    except SourceFormatError:
        return None
    return frame if not frame.items and not frame.degraded else None


def _clean(document: ParsedDocument, frame: ParsedDocument, items: int) -> bool:
    """Whether a parse read exactly the items cut out, in the frame's context, and warned
    about nothing but what the frame alone warns about (a mislabelled content type: not an
    encoding fallback, which a byte inside an item can cause)."""
    return (not document.degraded and len(document.items) == items
            and (document.kind, document.base_url, document.language, document.warnings)
            == (frame.kind, frame.base_url, frame.language, frame.warnings))


def _read_listing(source: str, document: ParsedDocument, headers: Mapping[str, str],
                  reusable: Mapping[str, str]) -> Reading:
    key = document_key(document, b"", b"", headers)
    hashes = [raw_hash(_block(item), key) for item in document.items]
    kept = [index for index, digest in enumerate(hashes) if digest not in reusable]
    if len(kept) < len(hashes):
        parsed = ParsedDocument(document.kind, document.base_url,
                                [document.items[index] for index in kept], document.warnings,
                                document.degraded, document.language)
        skipped = [digest for digest in hashes if digest in reusable]
        reading = _candidates(source, parsed, [hashes[index] for index in kept],
                              [reusable[digest] for digest in skipped], len(hashes))
        if reading is not None:
            return reading
    return _candidates(source, document, hashes, [], len(hashes))


def _block(item: FeedItem) -> bytes:
    """What a listing block gave: the only inputs of its item's normalisation."""
    fields = (item.title, item.link, item.guid, item.published, item.summary_html,
              item.author, item.language)
    return "\x1f".join("\x00" if value is None else value for value in fields).encode()


def _candidates(source: str, document: ParsedDocument, hashes: list[str],
                unchanged: list[str], items: int) -> Reading | None:
    """The candidates of the parsed items; None when an unchanged item shares its item_id with
    a parsed one (a document repeating an item: only a whole read says which one wins)."""
    candidates = normalise_document(source, document, hashes)
    unchanged = list(dict.fromkeys(unchanged))  # a document repeating an item byte for byte
    if unchanged and not set(unchanged).isdisjoint(candidates.rows["item_id"].to_pylist()):
        return None
    candidates.unchanged = pa.Table.from_pydict(
        {"source": [source] * len(unchanged), "item_id": unchanged}, schema=UNCHANGED)
    return Reading(document, candidates, items)


def _whole(source: str, document: ParsedDocument) -> Reading:
    """A document read as before: every item parsed, none hashed."""
    return Reading(document, normalise_document(source, document), len(document.items))

