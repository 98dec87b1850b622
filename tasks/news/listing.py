"""Pure parser of an HTML headline listing, for sites without a feed (the InfoSHOS layout).

A headline is a link paired with a `dd.mm.yyyy HH:MM` date: in the same block (a list item
holding both), or in the block just before it (a table row with the date, then a row with the
link). Links without a date are navigation and are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bs4 import BeautifulSoup, Tag

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.news.feeds import FeedItem, ParsedDocument
from sco_etl.tasks.news.fields import header_charset

DATE_TEXT = re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{4}\s+\d{1,2}:\d{2}\b")
WHOLE_DATE = re.compile(r"^\s*\d{1,2}\.\d{1,2}\.\d{4}\s+\d{1,2}:\d{2}\s*$")
TOP_LEVEL = {"body", "html", "[document]"}


def parse_listing(body: bytes, url: str, headers: Mapping[str, str]) -> ParsedDocument:
    """The dated headlines of a listing page, in page order.

    Links are left as written (resolved later against the page URL or its `<base href>`).

    Raises:
        SourceFormatError: the page holds no dated headline at all.
    """
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
            "is this the site's news list?"
        )
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
