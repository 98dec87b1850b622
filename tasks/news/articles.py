"""Article pages: extract title, date, author and body text; fetch a share of them.

`extract_article` is pure (bytes in, `Article` out): a site layout when the page has one
(InfoSHOS keeps the article in `td.text` of an old table layout), trafilatura otherwise.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
import trafilatura
from bs4 import BeautifulSoup, Tag

from sco_etl.schemas.errors import SourceError, SourceFormatError
from sco_etl.tasks.http import HttpClient, HttpPolicy
from sco_etl.tasks.news.fetch import article_client
from sco_etl.tasks.news.fields import header_charset, parse_published, plain_text
from sco_etl.tasks.news.settings import ARTICLE_ACCEPT

log = logging.getLogger(__name__)


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


ARTICLE_RESULT = pa.schema([
    pa.field("link", pa.string()),
    pa.field("body", pa.string()),
    pa.field("author", pa.string()),
    pa.field("published_at", pa.timestamp("us", tz="UTC")),
    pa.field("error", pa.string()),
])
"""One row per fetched page: the extracted fields, or the error that left it without a body."""


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


@dataclass
class ArticlePages:
    """Extracted article pages (`ARTICLE_RESULT` rows) and the requests they took."""

    pages: pa.Table
    requests_made: int


def fetch_articles(policy: HttpPolicy, links: list[str], share: int = 1) -> ArticlePages:
    """Fetch and extract each page in turn, paced as one of `share` fetches running at once.

    A page that fails leaves an error instead of a body; the item is tried again next run.
    """
    client = article_client(policy, share)
    rows = [_fetch_article(client, link) for link in links]
    return ArticlePages(pa.Table.from_pylist(rows, schema=ARTICLE_RESULT), client.requests_made)


def combine_pages(parts: list[ArticlePages]) -> ArticlePages:
    """The pages of every share, as one result."""
    tables = [part.pages for part in parts] or [ARTICLE_RESULT.empty_table()]
    return ArticlePages(pa.concat_tables(tables), sum(part.requests_made for part in parts))


def _fetch_article(client: HttpClient, link: str) -> dict:
    try:
        response = client.get(link, headers={"Accept": ARTICLE_ACCEPT})
        article = extract_article(response.body, response.url, response.headers)
    except SourceError as e:
        return {"link": link, "error": str(e)}
    except Exception as e:
        log.warning("article extraction failed for %s", link, exc_info=True)
        return {"link": link, "error": f"extraction failed: {type(e).__name__}: {e}"}
    return {"link": link, "body": article.body, "author": article.author,
            "published_at": article.published_at}


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
        raise SourceFormatError(f"{url}: no article text found on the page")
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
