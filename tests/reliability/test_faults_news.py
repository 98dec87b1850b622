"""Fault injection against a news site: every failure a source can show, through `ingest_news`.

Each request goes through a raw-socket front (`tests/fakes/raw_http.py`) to the news site; the
faults are those of `tests/fakes/faults.py`, on the feed and on article pages. For each: a
transient fault is retried and the run then succeeds with the warehouse exactly as a clean run
leaves it; a persistent one ends the run with a clear message and leaves every news file
byte-identical (the loads ledger records the failed run and `feed_state` the source's failure,
both by design); no temporary file is left.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass

import pytest
from pytest_httpserver import HTTPServer

from sco_etl.schemas import FEED_STATE, LOADS, NEWS
from sco_etl.schemas.errors import SourceError
from sco_etl.warehouse import Warehouse
from tests.fakes.faults import (
    FAULTS,
    HTML_ERROR_PAGE,
    RAW,
    READ_TIMEOUT,
    TRANSIENT,
    Fault,
    _short,
    cases,
    fast_env,
)
from tests.fakes.news_site import HTML, RSS, NewsSite, Page, fixture
from tests.fakes.raw_http import FaultyFront, RawFault
from tests.fakes.reliability import (
    data_files,
    leftovers,
    lock_is_free,
    lost_rows,
    partial_files,
    snapshot,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def news_server():
    server = HTTPServer(threaded=True)
    server.start()
    site = NewsSite(server)
    front = FaultyFront(site.base, hang_seconds=READ_TIMEOUT * 3).start()
    yield site, front
    front.stop()
    server.stop()


def local_to(front: FaultyFront, name: str) -> bytes:
    """A fixture whose InfoSHOS links point at the front, so article fetches go through it."""
    return fixture(name).replace(b"http://www.infoshos.ru", front.url("").rstrip("/").encode())


@pytest.fixture(scope="module")
def news_states(news_server, tmp_path_factory, prefect_harness):
    """A warehouse with the 17 December snapshot of the feed, and the content a clean run of
    the 13 January snapshot gives it."""
    from sco_etl.flows.news import ingest_news

    site, front = news_server
    feed = front.url("/rss.xml")
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast_env(monkeypatch)
        before = tmp_path_factory.mktemp("news") / "before"
        site.serve("/rss.xml", local_to(front, "rss_en_2019-12-17.xml"))
        ingest_news(feeds=[feed], fetch_articles=False, data_dir=str(before))
        after = before.parent / "after"
        shutil.copytree(before, after)
        site.serve("/rss.xml", local_to(front, "rss_en_2020-01-13.xml"))
        summary = ingest_news(feeds=[feed], fetch_articles=False, data_dir=str(after))
    assert summary["inserted"] == 2
    return before, snapshot(Warehouse(after))


@dataclass
class NewsCase:
    warehouse: Warehouse
    site: NewsSite
    front: FaultyFront

    @property
    def feed(self) -> str:
        return self.front.url("/rss.xml")

    def inject(self, fault: Fault, times: int, path: str = "/rss.xml") -> None:
        if fault.kind in RAW:
            self.front.faults.extend([RawFault(RAW[fault.kind], path)] * times)
        else:
            self.site.script(path, [news_fault(fault.kind, path)] * (
                10 * times if fault.kind == "redirect-loop" else times))

    def run(self, articles: bool = False) -> dict:
        from sco_etl.flows.news import ingest_news

        return ingest_news(feeds=[self.feed], fetch_articles=articles,
                           data_dir=str(self.warehouse.root))


def news_fault(kind: str, path: str) -> Page:
    if kind in ("500", "503"):
        return Page(b"oops", int(kind), "text/plain")
    if kind == "429":
        return Page(b"slow down", 429, "text/plain", {"Retry-After": "0"})
    if kind == "empty":
        return Page(None, 200, RSS)
    if kind == "html-200":
        return Page(HTML_ERROR_PAGE, 200, HTML)
    if kind == "wrong-encoding":
        # A Russian feed re-encoded to UTF-8 by a proxy, still declaring windows-1251.
        return Page(fixture("tricky_ru_declared1251_but_utf8.xml"), 200,
                    "application/rss+xml; charset=windows-1251")
    if kind == "redirect-loop":
        return Page(b"", 302, None, {"Location": path})
    raise ValueError(kind)


@pytest.fixture
def news_case(news_server, news_states, tmp_path, monkeypatch):
    fast_env(monkeypatch)
    site, front = news_server
    root = tmp_path / "data"
    shutil.copytree(news_states[0], root)
    site.serve("/rss.xml", local_to(front, "rss_en_2020-01-13.xml"))
    site.scripts.clear()
    front.faults.clear()
    front.exchanges.clear()
    yield NewsCase(Warehouse(root, lock_timeout=5), site, front)
    site.scripts.clear()
    front.faults.clear()


@pytest.mark.parametrize("fault", cases(TRANSIENT, {"429", "reset", "timeout", "truncated"}))
def test_news_transient_fault_is_retried_then_the_run_succeeds(news_case, news_states, fault,
                                                               reliability):
    news_case.inject(fault, times=2)
    summary = news_case.run()
    attempts = news_case.front.actions("/rss.xml")
    assert attempts[-1] == "forwarded" and len(attempts) == 3
    after = snapshot(news_case.warehouse)
    assert after == news_states[1]
    assert summary["inserted"] == 2
    assert leftovers(news_case.warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    reliability.record(
        "faults: news feed", f"{fault.kind}, twice, then served", fault.injected,
        f"retried ({len(attempts)} requests); run completed; warehouse equals a clean run",
        rows_lost=lost_rows(news_states[1], after),
        partial_files=partial_files(news_case.warehouse.root))


CAUSES = {"500": "HTTP 500", "503": "HTTP 503", "reset": "connection failed",
          "timeout": "timed out", "empty": "empty response", "redirect-loop": "redirect loop",
          "html-200": "no dated headlines on the page"}
"""What a persistently failing source is said to have done, per fault."""


@pytest.mark.parametrize("fault", cases([f for f in FAULTS if f.kind != "wrong-encoding"],
                                         {"503", "reset", "empty", "redirect-loop"}))
def test_news_persistent_fault_fails_the_source_clearly_and_changes_no_news(news_case, fault,
                                                                            reliability):
    warehouse = news_case.warehouse
    news_before = {k: v for k, v in data_files(warehouse).items() if k.startswith("news")}
    rows_before = snapshot(warehouse)
    news_case.inject(fault, times=12)
    with pytest.raises(SourceError) as raised:
        news_case.run()
    message = str(raised.value)
    # The source's URL once, and the cause in words: no exception names, no urllib3 text.
    cause = CAUSES.get(fault.kind, r"[a-z0-9 ,()]+")
    assert re.match(rf"1 of 1 news sources failed: {re.escape(news_case.feed)} \({cause}\)\. ",
                    message), message
    assert message.count(news_case.feed) == 1 and "Error" not in message
    after_files = {k: v for k, v in data_files(warehouse).items() if k.startswith("news")}
    assert after_files == news_before
    after = snapshot(warehouse)
    assert {k: v for k, v in after.items() if k != FEED_STATE.name} == {
        k: v for k, v in rows_before.items() if k != FEED_STATE.name}
    (state,) = warehouse.read(FEED_STATE).to_pylist()
    assert state["status"] == "failed" and state["message"]
    assert warehouse.read(LOADS).to_pylist()[-1]["status"] == "failed"
    assert leftovers(warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(warehouse.root)
    reliability.record(
        "faults: news feed", f"{fault.kind}, persistent", fault.injected,
        f"source failed, run failed: {_short(raised.value, 110)}; news files byte-identical; "
        "feed_state marks the source failed (by design)",
        rows_lost=lost_rows({k: v for k, v in rows_before.items() if k != FEED_STATE.name},
                            after),
        partial_files=partial_files(warehouse.root))


def test_news_wrong_encoding_is_read_from_the_bytes_not_the_label(news_case, reliability):
    news_case.inject(next(f for f in FAULTS if f.kind == "wrong-encoding"), times=1)
    summary = news_case.run()
    titles = [r["title"] for r in news_case.warehouse.read(NEWS).to_pylist()
              if r["source"] == news_case.feed and r["language"] and r["language"][:2] == "ru"]
    assert summary["rejected"] == 0 and titles
    assert all(re.search("[а-яА-Я]", t) and "Ð" not in t and "Ñ" not in t for t in titles)
    reliability.record(
        "faults: news feed", "wrong-encoding", "declares windows-1251, sends UTF-8",
        f"read as UTF-8 from the bytes: {len(titles)} Russian titles stored without mojibake",
        partial_files=partial_files(news_case.warehouse.root))


ARTICLE_FAULTS = [f for f in FAULTS if f.kind in ("503", "reset", "timeout", "truncated",
                                                  "empty", "redirect-loop")]


@pytest.mark.parametrize("fault", cases(ARTICLE_FAULTS, {"reset", "empty"}))
def test_news_article_fault_leaves_the_item_for_the_next_run(news_case, fault, reliability):
    site, front = news_case.site, news_case.front
    page = "/en/?idn=9472"
    site.serve("/atom.xml", local_to(front, "atom_en.xml"), "application/atom+xml")
    site.serve(page, fixture("article_en_moiseev_interview.html"), HTML)
    feed = front.url("/atom.xml")
    from sco_etl.flows.news import ingest_news

    def run():
        return ingest_news(feeds=[feed], fetch_articles=True,
                           data_dir=str(news_case.warehouse.root))

    def interview() -> dict:
        return next(r for r in news_case.warehouse.read(NEWS).to_pylist()
                    if r["guid"] == "tag:infoshos.ru,2011-05-23:/en/idn/9472")

    news_case.inject(fault, times=12, path=page)
    run()  # the run completes: an article page is optional, retried next run
    failed = interview()
    # The feed's own text is the body meanwhile.
    assert failed["body_from"] == "feed" and failed["article_attempts"] == 1
    assert failed["article_error"]
    site.scripts.clear()
    front.faults.clear()
    run()
    assert interview()["body"].startswith("Ahead of the 10th anniversary summit")
    assert interview()["body_from"] == "article"
    assert leftovers(news_case.warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    reliability.record(
        "faults: news article", f"{fault.kind}, persistent on an article page", fault.injected,
        f"item stored without body, article_error '{_short(failed['article_error'], 70)}'; "
        "run completed; next run filled the body")
