"""A news site on a local port: serves the news fixtures, honours conditional GET, and records
what it was asked. Responses can be scripted one request at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

FIXTURES = Path(__file__).parent.parent / "fixtures" / "news"
EVERY_PATH = re.compile(r"^/.*$")
ORIGINS = (b"http://www.infoshos.ru", b"https://infoshos.ru")
RSS = "application/rss+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Page:
    """One response: a body (None for an empty one), status, headers."""

    body: bytes | None
    status: int = 200
    content_type: str | None = RSS
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        response = Response(self.body or b"", status=self.status, headers=self.headers)
        if self.content_type:
            response.headers["Content-Type"] = self.content_type
        else:
            del response.headers["Content-Type"]
        return response


@dataclass
class Seen:
    """A request as the site received it."""

    path: str
    headers: dict[str, str]


class NewsSite:
    """Pages by path (`/rss.xml`, `/en/?idn=9472`); unknown paths answer 404.

    A page with an `ETag` header answers 304 to a matching `If-None-Match`, as a server does.
    `script(path, pages)` queues responses that are served once each, in order, before the page.
    """

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.pages: dict[str, Page] = {}
        self.scripts: dict[str, list[Page]] = {}
        self.seen: list[Seen] = []
        server.expect_request(EVERY_PATH).respond_with_handler(self)

    def url(self, path: str) -> str:
        return self.base + path

    def local(self, name: str) -> bytes:
        """A fixture whose InfoSHOS links point at this site, so article fetches stay local."""
        body = fixture(name)
        for origin in ORIGINS:
            body = body.replace(origin, self.base.encode())
        return body

    def serve(self, path: str, body: bytes, content_type: str | None = RSS, status: int = 200,
              **headers: str) -> str:
        self.pages[path] = Page(body, status, content_type, _headers(headers))
        return self.url(path)

    def serve_feeds(self, russian: bool = False) -> list[str]:
        """The English RSS and Atom fixtures (the Atom links point here), the Moiseev interview's
        article page, and with `russian` the windows-1251 feed; returns the feed URLs."""
        feeds = [self.serve("/rss.xml", fixture("rss_en_2019-12-17.xml")),
                 self.serve("/atom.xml", self.local("atom_en.xml"), "application/atom+xml")]
        if russian:
            feeds.append(self.serve("/ru.xml", fixture("tricky_ru_windows1251.xml"),
                                    "application/rss+xml; charset=windows-1251"))
        self.serve("/en/?idn=9472", fixture("article_en_moiseev_interview.html"), HTML)
        return feeds

    def script(self, path: str, pages: list[Page]) -> str:
        self.scripts[path] = list(pages)
        return self.url(path)

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def __call__(self, request: Request) -> Response:
        query = request.query_string.decode()
        path = request.path + (f"?{query}" if query else "")
        self.seen.append(Seen(path, dict(request.headers)))
        if self.scripts.get(path):
            return self.scripts[path].pop(0).response()
        page = self.pages.get(path)
        if page is None:
            return Response("not found", status=404)
        etag = page.headers.get("ETag")
        if etag and request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return page.response()


def _headers(values: dict[str, str]) -> dict[str, str]:
    names = {"etag": "ETag", "last_modified": "Last-Modified", "retry_after": "Retry-After"}
    return {names.get(k, k): v for k, v in values.items()}
