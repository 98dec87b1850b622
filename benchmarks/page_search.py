"""The seed page and news search at scale: page build time for one date, search latency
over 10,000 items, mentions over 10,000 items, and the pages as headless Chromium sees them.

Run: `.venv/bin/python benchmarks/page_search.py` (offline: the fake CBR and the news
fixtures on local ports, a temporary Prefect API, Debian's /usr/bin/chromium). Prints the
figures and writes them to benchmarks/results/page_search.json; the screenshots go to a
temporary folder (their sizes are in the results).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ["SCO_ETL_REQUEST_INTERVAL"] = "0"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa
from PIL import Image
from pytest_httpserver import HTTPServer

from sco_etl.flows.cli.page import page_server
from sco_etl.schemas import COUNTRY_TERMS, NEWS
from sco_etl.tasks.news.mentions import compile_matchers, find_mentions
from sco_etl.tasks.page.render import build_day
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.search import rebuild_index, refresh_index, search
from tests.fakes.cbr_history import History
from tests.fakes.cbr_server import FakeCbr
from tests.fakes.news_site import NewsSite
from tests.fakes.seed import ingest_page_days
from tests.flows.test_page import CHROMIUM, CHROMIUM_ARGS, DAYS

ITEMS = 10_000
RESULTS = Path(__file__).parent / "results" / "page_search.json"
BUILT_AT = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
QUERIES = ["cooperation", "security summit", "Kazakhstan", "Казахстан", "energy pipeline",
           "сотрудничество", "ministers meeting", "trade", "railway corridor", "aspirants"]
EN_TEXT = ("cooperation security summit ministers meeting trade energy pipeline railway "
            "corridor investment delegation agreement forum culture tourism education "
            "Kazakhstan China Russia India Pakistan Iran Uzbekistan Tashkent Beijing")
RU_TEXT = ("сотрудничество безопасность саммит министры встреча торговля энергетика "
            "железная дорога инвестиции делегация соглашение форум культура Казахстан "
            "Китай Россия Индия Пекин Астана")


def synthetic_news(count: int) -> pa.Table:
    """`count` items with ~250-word bodies, one every six hours back from 2011 (older than
    the fixtures, so the pages show those), 1 in 4 Russian."""
    rng = random.Random(12)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = []
    for n in range(count):
        russian = n % 4 == 0
        words = (RU_TEXT if russian else EN_TEXT).split()
        title = " ".join(rng.choices(words, k=8)).capitalize()
        body = "\n\n".join(" ".join(rng.choices(words, k=50)) + "." for _ in range(5))
        url = f"https://bench.example/{'ru' if russian else 'en'}/?idn={n}"
        rows.append({
            "item_id": hashlib.md5(url.encode()).hexdigest(), "source": "https://bench.example/rss",
            "guid": f"bench-{n}", "url": url, "link": url, "title": title, "summary": title,
            "summary_html": None, "body": body, "author": None,
            "language": "ru" if russian else "en",
            "published_at": dt.datetime(2011, 1, 1, tzinfo=dt.UTC) - dt.timedelta(hours=6 * n),
            "published_at_source": "feed", "duplicate_of": None, "article_attempts": 1,
            "article_error": None, "content_hash": hashlib.sha256(body.encode()).hexdigest(),
            "first_seen_at": now, "updated_at": now, "run_id": "bench"})
    return pa.Table.from_pylist(rows, schema=NEWS.arrow_schema)


def load(data: Path, cbr_url: str) -> Warehouse:
    server = HTTPServer()
    server.start()
    try:
        ingest_page_days(data, cbr_url, NewsSite(server))
    finally:
        server.stop()
    return Warehouse(data)


def edit_and_refresh(warehouse: Warehouse, news: pa.Table, count: int):
    """Edit `count` items (as a news run would: a new title, a new `updated_at`), then bring
    the search index up to date; the edited titles must be found."""
    edited = news.slice(0, count).to_pylist()
    for row in edited:
        row["title"] = f"Edited headline {row['guid']} quinquennial"
        row["updated_at"] = BUILT_AT
    warehouse.transaction(lambda writer: writer.upsert(
        NEWS, pa.Table.from_pylist(edited, schema=NEWS.arrow_schema)))
    started = time.perf_counter()
    documents, changed = refresh_index(warehouse)
    seconds = time.perf_counter() - started
    assert changed == count, (documents, changed)
    assert search(warehouse, "quinquennial", limit=100).num_rows == count
    return seconds


def timed(work, repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return seconds


def browse(folder: Path, shots: Path) -> dict:
    """Screenshot sizes of the three pages, and the 2019 page's text as Chromium reads it."""
    from playwright.sync_api import sync_playwright

    server = page_server(folder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    found: dict = {"screenshots": {}}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS)
            for day in DAYS:
                tab = browser.new_page(viewport={"width": 1200, "height": 900})
                started = time.perf_counter()
                tab.goto(f"http://127.0.0.1:{server.server_port}/{day}/index.html")
                loaded = time.perf_counter() - started
                path = shots / f"{day}.png"
                tab.screenshot(path=str(path), full_page=True)
                with Image.open(path) as image:
                    found["screenshots"][str(day)] = {
                        "bytes": path.stat().st_size, "width": image.width,
                        "height": image.height, "load_ms": round(loaded * 1000, 1)}
                if day == DAYS[1]:
                    found["text_2019_12_17"] = tab.inner_text("body")
                tab.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    return found


def main() -> None:
    from prefect.testing.utilities import prefect_test_harness

    root = Path(tempfile.mkdtemp(prefix="sco-page-bench-"))
    fake = FakeCbr(History(last_date=dt.date(2025, 12, 31)))
    cbr = HTTPServer(threaded=True)
    cbr.expect_request(re.compile(r"^/.*$")).respond_with_handler(fake)
    cbr.start()
    try:
        with prefect_test_harness(server_startup_timeout=90):
            warehouse = load(root / "data", cbr.url_for("/scripts/"))
    finally:
        cbr.stop()
    extra = synthetic_news(ITEMS)
    warehouse.transaction(lambda writer: writer.upsert(NEWS, extra))
    matchers = compile_matchers(warehouse.read(COUNTRY_TERMS))
    mentions = timed(lambda: find_mentions(extra, matchers), 1)[0]
    found_mentions = find_mentions(extra, matchers).num_rows
    started = time.perf_counter()
    documents = rebuild_index(warehouse)
    build_seconds = time.perf_counter() - started
    update_seconds = edit_and_refresh(warehouse, extra, 10)
    site = root / "site"
    builds = {str(day): timed(lambda d=day: build_day(warehouse, d, site, now=BUILT_AT), 6)
              for day in DAYS}
    latencies = {}
    for query in QUERIES:
        runs = timed(lambda q=query: search(warehouse, q, limit=10), 6)[1:]  # first: warm-up
        latencies[query] = statistics.median(runs)
    all_runs = sorted(latencies.values())
    results = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "news_items": documents,
        "page_build_seconds": {day: {"first": round(runs[0], 3),
                                     "median_warm": round(statistics.median(runs[1:]), 3)}
                               for day, runs in builds.items()},
        "search_index_build_seconds": round(build_seconds, 2),
        "search_index_update_seconds_10_changed": round(update_seconds, 2),
        "search_latency_ms": {q: round(s * 1000, 1) for q, s in latencies.items()},
        "search_latency_median_ms": round(statistics.median(all_runs) * 1000, 1),
        "search_latency_max_ms": round(all_runs[-1] * 1000, 1),
        "mentions_seconds_10k_items": round(mentions, 2),
        "mentions_found_10k_items": found_mentions,
        **(browse(site, root) if CHROMIUM.exists() else
           {"screenshots": f"not taken: no {CHROMIUM}", "text_2019_12_17": ""}),
    }
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "text_2019_12_17"}, indent=2))
    print("--- 17.12.2019 page, text as Chromium extracted it ---")
    print(results["text_2019_12_17"])
    print(f"screenshots in {root}")


if __name__ == "__main__":
    main()
