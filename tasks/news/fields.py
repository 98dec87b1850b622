"""Pure normalisers of news fields: plain text, plain paragraphs, safe HTML, canonical links,
Moscow-aware dates, the charset a response declares.

No I/O, no logging: every function maps values to values.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import html
import re
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import nh3

from sco_etl.schemas.clock import MOSCOW
from sco_etl.tasks.news.settings import TRACKING_PARAMS

WEB_SCHEMES = ("http", "https")
SITE_DATE = re.compile(
    r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?(?:\s+MSK)?$"
)
"""InfoSHOS-style `13.01.2020 14:10`: Moscow wall-clock time, no zone shown."""
MOSCOW_ZONES = frozenset({"MSK", "MSD"})
NUMERIC_ZONE = re.compile(r"^[+-]\d{4}$")
RFC822_ZONES = frozenset({"UT", "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT",
                          "PST", "PDT"})
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SAFE_URL_SCHEMES = {"http", "https", "mailto"}
MAX_UNESCAPE_ROUNDS = 5
CHARSET = re.compile(r"charset=([\w-]+)", re.IGNORECASE)
BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
              "blockquote", "pre", "table", "tr", "section", "article", "header", "footer"}
BLOCK = re.compile(r"<\s*/?\s*(?:" + "|".join(sorted(BLOCK_TAGS)) + r")\b[^>]*>",
                   re.IGNORECASE)


def plain_text(value: str | None) -> str | None:
    """Text of a title or summary: entities decoded (`Kashmir&amp;#8217;s`: `Kashmir’s`), tags
    and scripts gone with their content (also escaped ones), whitespace runs one space."""
    if value is None:
        return None
    text = value
    if "<" not in text and "&" not in text:  # most titles: nothing to decode or strip
        return " ".join(CONTROL.sub("", text).split()) or None
    for _ in range(MAX_UNESCAPE_ROUNDS):  # feeds escape twice (`&amp;#8217;`), sometimes more
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    if "<" in text:
        # nh3 drops every tag, and script/style elements with their content; it escapes what
        # is left as HTML text, which we undo once.
        text = html.unescape(nh3.clean(text, tags=set()))
    text = CONTROL.sub("", text)
    text = " ".join(text.split())
    return text or None


def plain_paragraphs(fragment: str | None) -> str | None:
    """Plain text of an HTML fragment as paragraphs separated by a blank line (the shape an
    article page's text is stored in): blocks end a paragraph, each read as `plain_text`."""
    if fragment is None or not fragment.strip():
        return None
    # nh3 keeps the block tags only (dropping scripts with their content); they split.
    blocks = BLOCK.split(nh3.clean(fragment, tags=BLOCK_TAGS, attributes={}))
    return "\n\n".join(p for p in map(plain_text, blocks) if p) or None


def clean_html(fragment: str | None, base_url: str) -> str | None:
    """Sanitised HTML of a summary: no scripts, handlers or unsafe schemes; absolute URLs."""
    if fragment is None or not fragment.strip():
        return None

    def absolute(_tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            return urljoin(base_url, value.strip())
        return value

    cleaned = nh3.clean(fragment, url_schemes=SAFE_URL_SCHEMES, attribute_filter=absolute)
    return cleaned.strip() or None


def absolute_url(base_url: str, link: str) -> str:
    """`link` resolved against `base_url`; ValueError when that is not an http(s) URL."""
    resolved = urljoin(base_url, link.strip())
    scheme = urlsplit(resolved).scheme.lower()
    if scheme not in WEB_SCHEMES:
        raise ValueError(f"link is not http(s): {resolved[:80]!r}")
    return resolved


def canonical_url(link: str) -> str:
    """The identity of a page (to find one story under several links, not to fetch it):
    https, host without `www.`, no tracking parameters, sorted query, no fragment."""
    parts = urlsplit(link.strip())
    if parts.scheme.lower() not in WEB_SCHEMES:
        raise ValueError(f"link is not http(s): {link[:80]!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"link has no host: {link[:80]!r}")
    host = host.removeprefix("www.")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"link has an invalid port: {link[:80]!r}") from None
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = sorted(
        (key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_") and key.lower() not in TRACKING_PARAMS
    )
    return urlunsplit(("https", netloc, parts.path or "/", urlencode(query, quote_via=quote), ""))


def header_charset(headers: Mapping[str, str]) -> str | None:
    """The charset of a `Content-Type` header: the HTTP charset wins over a page's meta tag,
    which BeautifulSoup reads when this is None."""
    match = CHARSET.search(headers.get("Content-Type", ""))
    return match.group(1) if match else None


def parse_published(raw: str | None,
                    fallback: time.struct_time | None = None) -> dt.datetime | None:
    """A feed or page date as an aware UTC datetime; None when it cannot be read.

    Zone-less times, `MSK`/`MSD` and `dd.mm.yyyy HH:MM` are Moscow wall-clock time, converted
    with the tz database (UTC+4 from March 2011 to October 2014). `fallback`, feedparser's
    own reading, serves only for shapes we do not know: it reads `MSK` and zone-less as UTC.
    """
    text = " ".join((raw or "").split())
    if text:
        for reader in (_site_date, _iso_date, _rfc822_date):
            value = reader(text)
            if value is not None:
                return value.astimezone(dt.UTC)
    if fallback is not None:
        return dt.datetime(*fallback[:6], tzinfo=dt.UTC)
    return None


def moscow(naive: dt.datetime) -> dt.datetime:
    return naive.replace(tzinfo=MOSCOW)


def item_id(source: str, guid: str | None, url: str) -> str:
    """The stable key of an item: its guid within its source, or its canonical link."""
    return _digest(source, guid or url)[:32]


def content_hash(url: str, title: str, summary_html: str | None) -> str:
    """What the source says about an item; a change is an edit and leaves a revision."""
    return _digest(url, title, summary_html or "")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _site_date(text: str) -> dt.datetime | None:
    match = SITE_DATE.match(text)
    if not match:
        return None
    day, month, year, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    try:
        return moscow(dt.datetime(year, month, day, hour, minute, second))
    except ValueError:
        return None


def _iso_date(text: str) -> dt.datetime | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else moscow(value)


def _rfc822_date(text: str) -> dt.datetime | None:
    parsed = email.utils.parsedate_tz(text)
    if parsed is None:
        return None
    try:
        naive = dt.datetime(*parsed[:6])
    except ValueError:
        return None
    # parsedate_tz reports offset 0 for a missing or unknown zone, so read the zone ourselves.
    zone = text.rsplit(" ", 1)[-1].upper()
    if ":" in zone or zone in MOSCOW_ZONES:  # no zone at all (ends with the time), or MSK
        return moscow(naive)
    if NUMERIC_ZONE.match(zone) or zone in RFC822_ZONES:
        return naive.replace(tzinfo=dt.timezone(dt.timedelta(seconds=parsed[9] or 0)))
    return None  # a zone name we do not know: let the caller fall back
