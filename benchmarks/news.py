"""Section 4: the news pipeline, through the news engineer's `benchmarks/news_bench.py`.

That module owns the workload (a synthetic RSS feed of N items, article pages) and the
article-extraction timing; this job runs its feed through `ingest_news` under the suite's
running Prefect server: a 10,000-item ingest, the same document again (nothing to write),
and a rebuilt document with the same items (every item parsed and compared, nothing to write).
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path

REBUILT = "Mon, 13 Jan 2020 16:00:00 +0300"


def load_news_bench():
    """`benchmarks.news_bench`, imported with the environment kept as it was.

    Importing it sets SCO_ETL_REQUEST_INTERVAL=0 for its own runs; the environment is put
    back so that the rates jobs of an in-process run keep the default politeness.
    """
    saved = dict(os.environ)
    try:
        return importlib.import_module("benchmarks.news_bench")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def measure(params: dict) -> dict:
    """Job `news`: ingest, re-ingest unchanged (same bytes, then rebuilt), article extraction."""
    bench = load_news_bench()
    from pytest_httpserver import HTTPServer
    from werkzeug import Response

    from sco_etl.flows.news import ingest_news
    from sco_etl.schemas import NEWS
    from sco_etl.warehouse import Warehouse

    items = params["items"]
    feeds = {"/rss.xml": bench.make_feed(items), "/tiny.xml": bench.make_feed(1)}
    server = HTTPServer(host="127.0.0.1", threaded=True)
    for path in feeds:
        server.expect_request(path).respond_with_handler(
            lambda request, path=path: Response(
                feeds[path], content_type="application/rss+xml; charset=utf-8"))
    server.start()
    root = Path(params["root"])
    figures: dict = {"status": "measured", "items": items, "feed_bytes": len(feeds["/rss.xml"])}

    def ingest(path: str, data: Path) -> tuple[dict, float]:
        started, cpu = time.perf_counter(), time.process_time()
        summary = ingest_news(feeds=[server.url_for(path)], fetch_articles=False,
                              data_dir=str(data))
        cpu_seconds.append(time.process_time() - cpu)
        return summary, time.perf_counter() - started

    cpu_seconds: list[float] = []

    try:
        if params.get("warm_up", True):  # also Prefect's cost of one news flow run
            _, figures["tiny_feed_seconds"] = ingest("/tiny.xml", root / "news-warmup")
        else:
            cpu_seconds.append(None)
        data = root / "news"
        first, figures["ingest_seconds"] = ingest("/rss.xml", data)
        figures["ingest_rows_written"] = first["inserted"] + first["updated"]
        before = bench.news_files(data)
        same, figures["reingest_same_seconds"] = ingest("/rss.xml", data)
        figures["reingest_same_rows_written"] = same["inserted"] + same["updated"]
        feeds["/rss.xml"] = bench.make_feed(items, build=REBUILT)
        rebuilt, figures["reingest_rebuilt_seconds"] = ingest("/rss.xml", data)
        figures["reingest_rebuilt_rows_written"] = rebuilt["inserted"] + rebuilt["updated"]
        figures["reingest_rebuilt_unchanged"] = rebuilt["unchanged"]
        after = bench.news_files(data)
        figures["news_files_rewritten_by_reingests"] = sum(
            before.get(path) != mtime for path, mtime in after.items())
        figures["news_rows"] = Warehouse(data).read(NEWS, columns=["item_id"]).num_rows
        figures["cpu_seconds"] = dict(zip(
            ("tiny", "ingest", "reingest_same", "reingest_rebuilt"), cpu_seconds, strict=True))
    finally:
        server.clear()
        server.stop()
    bench.ARTICLES = params["articles"]  # the module's own knob: pages to extract
    figures.update(bench.bench_articles())
    return figures
