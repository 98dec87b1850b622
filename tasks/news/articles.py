"""Pure parser of article pages: title, date, author and body text.

`extract_article` takes bytes and gives an `Article`: by a site layout when the page has one
(InfoSHOS keeps the article in `td.text` of an old table layout), by trafilatura otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import trafilatura
from bs4 import BeautifulSoup, Tag

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.news.fields import header_charset, parse_published, plain_text


@dataclass(frozen=True)
class SiteLayout:
    """Where a site keeps its article, as CSS selectors.

    Attributes:
        container: the element holding the article; the layout applies when it is found.
        drop: blocks inside the container that are not the article (tools, comments).
    """

    name: str
    container: str
    title: str
    date: str
    author: str
    drop: tuple[str, ...]


SITE_LAYOUTS = (
    SiteLayout(
        name="infoshos", container="td.text", title="h1", date=".date", author=".author",
        drop=("ul.article-tools", "div.comments", "script", "style", "form"),
    ),
)


@dataclass
class Article:
    """What an article page says. `published_at` is UTC; `body` is plain text paragraphs."""

    title: str | None
    published_at: dt.datetime | None
    author: str | None
    body: str | None
    extractor: str


def extract_article(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> Article:
    """Title, date, author and body text of an article page.

    Raises:
        SourceFormatError: no article text on the page.
    """
    soup = BeautifulSoup(body, "lxml", from_encoding=header_charset(headers or {}))
    for layout in SITE_LAYOUTS:
        container = soup.select_one(layout.container)
        if container is not None:
            article = _by_layout(container, layout)
            if article.body:
                return article
    return _by_trafilatura(body, url)


def _by_layout(container: Tag, layout: SiteLayout) -> Article:
    for selector in layout.drop:
        for block in container.select(selector):
            block.decompose()
    title = container.select_one(layout.title)
    date = container.select_one(layout.date)
    author = container.select_one(layout.author)
    paragraphs = [_text(p) for p in container.find_all("p")]
    body = "\n\n".join(p for p in paragraphs if p) or None
    return Article(
        title=_text(title) if title else None,
        published_at=parse_published(_text(date)) if date else None,
        author=_text(author) if author else None,
        body=body,
        extractor=layout.name,
    )


def _by_trafilatura(body: bytes, url: str) -> Article:
    document = trafilatura.bare_extraction(
        body, url=url, with_metadata=True, include_comments=False, include_tables=False,
        deduplicate=False,
    )
    text = (document.text or "").strip() if document is not None else ""
    if not text:
        raise SourceFormatError(f"{url}: no article text found on the page", url=url,
                                cause="no article text on the page")
    paragraphs = [" ".join(line.split()) for line in text.splitlines()]
    return Article(
        title=plain_text(document.title),
        # trafilatura gives a date without a time: read as Moscow midnight of that day.
        published_at=parse_published(document.date),
        author=plain_text(document.author),
        body="\n\n".join(p for p in paragraphs if p),
        extractor="trafilatura",
    )


def _text(element: Tag) -> str:
    return " ".join(element.get_text(" ").split())
