"""Pure parser of article pages: title, date, author and body text.

`extract_article` takes bytes and gives an `Article`: by InfoSHOS's layout when the page has
it, by trafilatura otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import trafilatura
from bs4 import BeautifulSoup, Tag

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.news.fields import header_charset, parse_published, plain_text

INFOSHOS_ARTICLE = "td.text"
"""InfoSHOS keeps its article in `td.text` of an old table layout, with these blocks in it that
are not the article:"""
INFOSHOS_EXTRAS = "ul.article-tools, div.comments, script, style, form"


@dataclass
class Article:
    """What an article page says. `published_at` is UTC; `body` is plain text paragraphs."""

    title: str | None
    published_at: dt.datetime | None
    author: str | None
    body: str | None
    extractor: str


def extract_article(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> Article:
    """Title, date, author and body text of an article page; SourceFormatError without text."""
    soup = BeautifulSoup(body, "lxml", from_encoding=header_charset(headers or {}))
    container = soup.select_one(INFOSHOS_ARTICLE)
    if container is not None:
        article = _infoshos(container)
        if article.body:
            return article
    return _by_trafilatura(body, url)


def _infoshos(container: Tag) -> Article:
    for block in container.select(INFOSHOS_EXTRAS):
        block.decompose()
    title, date, author = (container.select_one(s) for s in ("h1", ".date", ".author"))
    paragraphs = [_text(p) for p in container.find_all("p")]
    return Article(
        title=_text(title) if title else None,
        published_at=parse_published(_text(date)) if date else None,
        author=_text(author) if author else None,
        body="\n\n".join(p for p in paragraphs if p) or None,
        extractor="infoshos",
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
