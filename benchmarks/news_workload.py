"""The realistic news workload: 40 sources × 50 items, 90 % answering 304, the rest 5 new
items each plus their article pages — and the politeness floor it is judged against.

The site (`WorkloadSite`) serves every source from one loopback port, as one host would be
paced. A round `r` gives the r-th tenth of the sources (four of 40) five new items each (a
new ETag); every other source answers 304 to the ETag it sent. Items of even sources carry
their full text (`content:encoded`), odd ones only a summary. Article pages have no site
layout, so the general extractor (trafilatura) reads them, as it does for most sites.

The floor is the time the request interval alone imposes: sco-etl paces all its requests to
one site at `MIN_REQUEST_INTERVAL` together (feeds through one client, article pages through
shares that keep the rate together), so N requests take at least N × interval.

`python benchmarks/news_bench.py` runs this workload side by side for two trees (before and
after a change); `benchmarks/news.py` runs it for the installed tree in the benchmark suite.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
from pathlib import Path

from werkzeug import Request, Response

SOURCES = 40
ITEMS = 50
NEW_ITEMS = 5
INTERVAL = 0.1
"""sco-etl's default `MIN_REQUEST_INTERVAL`: the pacing the floor is computed from."""
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
EVERY_PATH = re.compile(r"^/.*$")
RSS = "application/rss+xml; charset=utf-8"


class WorkloadSite:
    """The sources and their article pages; `round` says how many rounds have passed."""

    def __init__(self, sources: int = SOURCES, items: int = ITEMS) -> None:
        self.sources = sources
        self.items = items
        self.changed_per_round = max(1, sources // 10)
        self.round = 0
        self.requests = 0
        self.base = ""
        self._lock = threading.Lock()

    def feeds(self) -> list[str]:
        return [f"{self.base}/s{source}/rss.xml" for source in range(self.sources)]

    def extra(self, source: int) -> int:
        """New items source `source` has gained by now."""
        return NEW_ITEMS if source // self.changed_per_round < self.round else 0

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
        match = re.fullmatch(r"/s(\d+)/(rss\.xml|a/(\d+)\.html)", request.path)
        if match is None:
            return Response("not found", status=404)
        source = int(match.group(1))
        if match.group(3) is not None:
            return Response(article(source, int(match.group(3))),
                            content_type="text/html; charset=utf-8")
        etag = f'"s{source}-v{self.extra(source)}"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(self.feed(source), content_type=RSS, headers={"ETag": etag})

    def feed(self, source: int) -> bytes:
        newest = self.items + self.extra(source)
        items = "".join(self.item(source, n)
                        for n in range(newest - 1, newest - self.items - 1, -1))
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>Source {source}</title><link>{self.base}/s{source}/</link>"
            f"<language>en</language>{items}</channel></rss>"
        ).encode()

    def item(self, source: int, n: int) -> str:
        when = START + dt.timedelta(hours=6 * n)
        content = ""
        if source % 2 == 0:
            content = ("<content:encoded><![CDATA["
                       + "".join(f"<p>{paragraph(source, n, p)}</p>" for p in range(3))
                       + "]]></content:encoded>")
        return (
            f"<item><title>Source {source} reports on SCO cooperation, item {n}</title>"
            f"<link>{self.base}/s{source}/a/{n}.html</link>"
            f"<description>Summary of item {n}: ministers of the SCO member states met."
            f"</description>{content}"
            f"<pubDate>{when:%a, %d %b %Y %H:%M:%S} +0000</pubDate>"
            f"<guid isPermaLink=\"false\">s{source}-{n}</guid></item>"
        )


def paragraph(source: int, n: int, p: int) -> str:
    return (f"Paragraph {p} of item {n} from source {source}. The SCO member states discussed "
            "trade, energy, transport corridors and security cooperation; Kazakhstan and "
            "Uzbekistan presented a joint railway plan. " * 3)


def article(source: int, n: int) -> bytes:
    paragraphs = "".join(f"<p>{paragraph(source, n, p)} The full article adds more.</p>"
                         for p in range(5))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Item {n}</title></head><body><nav><a href='/'>Home</a> <a href='/news'>News"
        f"</a></nav><main><article><h1>Source {source}, item {n}</h1>"
        f"<time datetime='{START + dt.timedelta(hours=6 * n):%Y-%m-%d}'></time>{paragraphs}"
        "</article></main><footer>© The site, all rights reserved.</footer></body></html>"
    ).encode()


def serve(site: WorkloadSite):
    """Start a threaded server for `site` on a free loopback port; returns the server."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.expect_request(EVERY_PATH).respond_with_handler(site)
    server.start()
    site.base = server.url_for("").rstrip("/")
    return server


def run_rounds(site: WorkloadSite, data: Path, rounds: int) -> dict:
    """Load the 40 sources once (unpaced, every article page read), then time `rounds` runs
    at the default pacing. Returns the figures of each round."""
    from sco_etl.flows.news import ingest_news
    from sco_etl.schemas import LOADS
    from sco_etl.warehouse import Warehouse

    def ingest(**options) -> None:
        state = ingest_news(feeds=site.feeds(), fetch_articles=True, data_dir=str(data),
                            return_state=True, **options)
        if not state.is_completed():
            raise RuntimeError(f"the workload run ended {state.type}: {state.message}")

    site.round = 0
    os.environ["SCO_ETL_REQUEST_INTERVAL"] = "0"
    started = time.perf_counter()
    ingest(articles_per_run=site.sources * site.items)
    figures: dict = {"setup_seconds": time.perf_counter() - started, "rounds": []}
    os.environ["SCO_ETL_REQUEST_INTERVAL"] = str(INTERVAL)
    try:
        for number in range(1, rounds + 1):
            site.round = number
            served = site.requests
            started = time.perf_counter()
            ingest()
            seconds = time.perf_counter() - started
            requests = site.requests - served
            load = Warehouse(data).read(LOADS).to_pylist()[-1]
            figures["rounds"].append({
                "seconds": seconds, "requests": requests, "floor_seconds": requests * INTERVAL,
                "rows_written": load["rows_written"], "status": load["status"],
            })
    finally:
        os.environ.pop("SCO_ETL_REQUEST_INTERVAL", None)
    return figures
