"""News pipeline benchmark: a 10,000-item feed, an unchanged re-ingest, article extraction.

Run: `.venv/bin/python benchmarks/news_bench.py` (offline: a local HTTP server and a temporary
Prefect API). Prints the figures and writes them to benchmarks/results/news.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["SCO_ETL_REQUEST_INTERVAL"] = "0"  # the pacing is politeness, not work
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_httpserver import HTTPServer
from requests.structures import CaseInsensitiveDict

from sco_etl.schemas import LOADS, NEWS
from sco_etl.tasks.http import HttpPolicy, deal
from sco_etl.tasks.news.articles import combine_pages, extract_article, fetch_articles
from sco_etl.tasks.news.extract import parse_document
from sco_etl.tasks.news.normalise import normalise_document
from sco_etl.warehouse import Warehouse

ITEMS = 10_000
ARTICLES = 200
EDITED = 10
RESULTS = Path(__file__).parent / "results" / "news.json"
START = dt.datetime(2020, 1, 1, 9, 0)


def make_feed(items: int, build: str = "Mon, 13 Jan 2020 15:00:00 +0300",
              edited: int = 0) -> bytes:
    """An RSS 2.0 feed of `items` items, one every four hours back from 2020 (≈ 55 months);
    the first `edited` of them with a corrected title."""
    parts = []
    for n in range(items):
        when = START - dt.timedelta(hours=4 * n)
        correction = " (corrected)" if n < edited else ""
        parts.append(
            f"<item><title>SCO news item {n}{correction}: Secretary-General meets &amp; talks "
            f"&#8220;cooperation&#8221;</title>"
            f"<link>http://www.infoshos.ru/en/?idn={100000 + n}&amp;utm_source=rss</link>"
            f"<description>&lt;p&gt;Summary of item {n} with &lt;b&gt;bold&lt;/b&gt; text and "
            f"a &lt;a href=\"/en/?idn={n}\"&gt;link&lt;/a&gt;.&lt;/p&gt;</description>"
            f"<pubDate>{when:%a, %d %b %Y %H:%M:00} +0300</pubDate>"
            f"<guid isPermaLink=\"false\">infoshos-en-{100000 + n}</guid></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>InfoSHOS bench</title><link>http://www.infoshos.ru/en/</link>"
        f"<lastBuildDate>{build}</lastBuildDate>" + "".join(parts) + "</channel></rss>"
    ).encode()


def make_article(n: int) -> bytes:
    paragraphs = "".join(
        f"<p>Paragraph {p} of article {n}. " + "The SCO member states discussed trade, "
        "security and cultural cooperation at length. " * 6 + "</p>" for p in range(6))
    return (
        "<html><head><meta charset='utf-8'><title>Article</title></head><body>"
        "<div class='top-links'><a href='/en/'>Home</a></div><table><tr><td class='text'>"
        f"<h1>Article {n}</h1><div class='date'>23.05.2011 10:00</div>{paragraphs}"
        "<ul class='article-tools'><li>Print</li></ul><div class='comments'>c</div>"
        "</td></tr></table></body></html>"
    ).encode()


CPU: dict[str, float] = {}
"""CPU seconds of this process per timed step: the build machine is shared, wall time is not
always ours."""


def timed(call, name: str | None = None):
    started, cpu = time.perf_counter(), time.process_time()
    value = call()
    if name:
        CPU[name] = time.process_time() - cpu
    return value, time.perf_counter() - started


def news_files(root: Path) -> dict[str, int]:
    news = root / "lake" / "main" / "news"
    return {str(p): p.stat().st_mtime_ns for p in news.rglob("*.parquet")}


def main() -> None:
    from prefect.testing.utilities import prefect_test_harness

    from sco_etl.flows.news import ingest_news

    feed = make_feed(ITEMS)
    figures: dict[str, object] = {"items": ITEMS, "feed_bytes": len(feed),
                                  "cpus": os.cpu_count(),
                                  "load_average_at_start": os.getloadavg()[0]}
    headers = CaseInsensitiveDict({"Content-Type": "application/rss+xml; charset=utf-8"})
    document, figures["parse_seconds"] = timed(
        lambda: parse_document(feed, "http://bench/rss.xml", headers), "parse")
    _, figures["normalise_seconds"] = timed(lambda: normalise_document("bench", document),
                                            "normalise")

    served = {"body": feed, "etag": None}
    server = HTTPServer(threaded=True)
    server.expect_request("/rss.xml").respond_with_handler(lambda r: _respond(served, r))
    tiny = {"body": make_feed(1), "etag": None}
    server.expect_request("/tiny.xml").respond_with_handler(lambda r: _respond(tiny, r))
    server.start()
    try:
        with prefect_test_harness(server_startup_timeout=120), \
                tempfile.TemporaryDirectory() as tmp:
            feed_url, tiny_url = server.url_for("/rss.xml"), server.url_for("/tiny.xml")

            def run(name: str, url: str, directory: str) -> dict:
                summary, figures[f"{name}_seconds"] = timed(lambda: ingest_news(
                    feeds=[url], fetch_articles=False, data_dir=directory), name)
                return summary

            run("warmup", tiny_url, f"{tmp}/warmup")
            run("prefect_fixed", tiny_url, f"{tmp}/tiny")
            data = Path(tmp) / "data"
            first = run("ingest_10k", feed_url, str(data))
            figures["ingest_10k_rows"] = first["inserted"]
            figures["news_partitions"] = len(news_files(data))
            before = news_files(data)
            again = run("reingest_same_document", feed_url, str(data))
            figures["reingest_same_document_rows_written"] = again["inserted"] + again["updated"]
            # A new build date: the bytes differ, so every item is parsed and compared.
            served["body"] = make_feed(ITEMS, build="Mon, 13 Jan 2020 16:00:00 +0300")
            third = run("reingest_reparsed", feed_url, str(data))
            figures["reingest_reparsed_rows_written"] = third["inserted"] + third["updated"]
            figures["reingest_reparsed_unchanged"] = third["unchanged"]
            figures["news_files_rewritten_by_reingests"] = sum(
                before[p] != m for p, m in news_files(data).items())
            # A steady-state run: a rebuilt document in which ten items were edited.
            served["body"] = make_feed(ITEMS, build="Mon, 13 Jan 2020 17:00:00 +0300",
                                       edited=EDITED)
            edited = run("reingest_10_edited", feed_url, str(data))
            figures["reingest_10_edited_rows_written"] = edited["inserted"] + edited["updated"]
            served["etag"] = '"bench-1"'  # the server starts sending an ETag: 200, then 304
            run("etag_first_seen", feed_url, str(data))
            fourth = run("reingest_304", feed_url, str(data))
            figures["reingest_304_fetch"] = fourth["sources"][0]["fetch"]
            figures["loads_rows_written"] = Warehouse(data).read(LOADS)["rows_written"].to_pylist()
            figures["news_rows"] = Warehouse(data).read(NEWS, columns=["item_id"]).num_rows
    finally:
        server.clear()
        server.stop()
    figures.update(bench_articles())
    figures.update({f"{name}_cpu_seconds": seconds for name, seconds in CPU.items()})
    figures["load_average_at_end"] = os.getloadavg()[0]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=1) + "\n")
    for name, value in figures.items():
        print(f"{name:42} {value:.3f}" if isinstance(value, float) else f"{name:42} {value}")


def bench_articles() -> dict[str, float]:
    pages = [make_article(n) for n in range(ARTICLES)]
    layout = [timed(lambda p=p: extract_article(p, "http://bench/a"))[1] for p in pages]
    plain = [p.replace(b"class='text'", b"class='x'") for p in pages[:50]]
    general = [timed(lambda p=p: extract_article(p, "http://bench/a"))[1] for p in plain]
    server = HTTPServer(threaded=True)
    for n, page in enumerate(pages):
        server.expect_request("/a", query_string=f"n={n}").respond_with_data(
            page, content_type="text/html; charset=utf-8")
    server.start()
    try:
        links = [server.url_for(f"/a?n={n}") for n in range(ARTICLES)]
        policy = HttpPolicy(min_interval=0)
        shares = deal(links, 4)  # as the flow does: four shares fetched at once

        def fetch_all():
            with ThreadPoolExecutor(max_workers=len(shares)) as pool:
                parts = list(pool.map(lambda s: fetch_articles(policy, s, len(shares)), shares))
            return combine_pages(parts).pages

        result, fetched = timed(fetch_all)
    finally:
        server.stop()
    assert result["error"].null_count == ARTICLES, "every bench article should extract"
    return {
        "article_extract_layout_ms_median": statistics.median(layout) * 1000,
        "article_extract_trafilatura_ms_median": statistics.median(general) * 1000,
        "articles_fetched": ARTICLES,
        "article_fetch_and_extract_seconds_4_workers": fetched,
        "article_fetch_and_extract_ms_per_article": fetched / ARTICLES * 1000,
    }


def _respond(served: dict, request):
    from werkzeug import Response

    etag = served["etag"]
    if etag and request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    headers = {"ETag": etag} if etag else {}
    return Response(served["body"], headers=headers,
                    content_type="application/rss+xml; charset=utf-8")


if __name__ == "__main__":
    main()
