"""Fault injection against real local servers: every failure a source can show, for CBR and news.

Each request goes through a raw-socket front (`tests/fakes/raw_http.py`) to the fake CBR or the
news site; HTTP-level faults (500, 503, 429, an HTML page, an empty body, a redirect loop, a
wrong encoding) come from the servers, socket-level ones (reset, read timeout, truncated body)
from the front. For each: a transient fault is retried and the run then succeeds with the
warehouse exactly as a clean run leaves it; a persistent one ends the run with a clear message
and leaves every data file byte-identical (the loads ledger records the failed run, and for
news `feed_state` records the source's failure, both by design); no temporary file is left.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import re
import shutil
import time
from dataclasses import dataclass

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from schemas import FEED_STATE, LOADS, NEWS
from schemas.errors import (
    ScoEtlError,
    SourceError,
    SourceFormatError,
    SourceRejectedError,
    TransientSourceError,
)
from tests.fakes.cbr_server import body, status
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
from warehouse import Warehouse

pytestmark = pytest.mark.usefixtures("prefect_harness")


DYNAMIC = "XML_dynamic.asp"
READ_TIMEOUT = 1.0
BEFORE = {"start": dt.date(2025, 3, 20), "end": dt.date(2025, 3, 31), "currencies": ["CNY", "KZT"]}
WINDOW = {"start": dt.date(2025, 3, 28), "end": dt.date(2025, 4, 3), "currencies": ["CNY", "KZT"]}
"""Two currency IDs over a week: two XML_dynamic documents, after the directory (d=0, d=1)."""


def fast_env(monkeypatch) -> None:
    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "5")
    monkeypatch.setenv("SCO_ETL_HTTP_TIMEOUT", str(READ_TIMEOUT))


# --- the faults -------------------------------------------------------------------------------


def redirect_loop(path: str):
    def fault(request):
        return Response("", status=302, headers={"Location": request.full_path})

    fault.path = path
    return fault


HTML_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Error</title>"
                   b"</head><body><h1>Technical works</h1><p>Try later.<br></body></html>")


@dataclass(frozen=True)
class Fault:
    """A kind of failure: how to inject one occurrence, whether it passes with retries, and
    what the run's error says when it does not."""

    kind: str
    injected: str
    transient: bool
    error: type[ScoEtlError]
    message: str


FAULTS = [
    Fault("500", "HTTP 500", True, TransientSourceError, r"HTTP 500.*gave up after \d attempts"),
    Fault("503", "HTTP 503", True, TransientSourceError, r"HTTP 503.*gave up after \d attempts"),
    Fault("429", "HTTP 429, Retry-After: 0", True, TransientSourceError,
          r"HTTP 429.*gave up after \d attempts"),
    Fault("reset", "TCP reset after the request (SO_LINGER 0)", True, TransientSourceError,
          r"ConnectionResetError.*gave up after \d attempts"),
    Fault("drop", "connection closed without a response", True, TransientSourceError,
          r"RemoteDisconnected.*gave up after \d attempts"),
    Fault("timeout", f"no answer for longer than the read timeout ({READ_TIMEOUT} s)", True,
          TransientSourceError, r"Read timed out.*gave up after \d attempts"),
    Fault("truncated", "Content-Length of the full body, half the body sent", True,
          TransientSourceError, r"IncompleteRead.*gave up after \d attempts"),
    Fault("empty", "200 with an empty body", False, SourceFormatError, "empty response body"),
    Fault("html-200", "200 with an HTML error page", False, SourceFormatError,
          r"not a well-formed XML document.*error page"),
    Fault("wrong-encoding", "declares windows-1251, sends UTF-8", False, SourceFormatError,
          r"Invalid bytes in character encoding"),
    Fault("redirect-loop", "302 to itself, forever", False, SourceRejectedError,
          "redirect loop"),
]
RAW = {"reset": "reset", "drop": "drop", "timeout": "hang", "truncated": "truncate"}
TRANSIENT = [f for f in FAULTS if f.transient]


def cases(faults: list[Fault], quick: set[str]) -> list:
    """`faults` as test parameters; those not in `quick` run only with `-m slow`."""
    return [pytest.param(f, id=f.kind, marks=() if f.kind in quick else pytest.mark.slow)
            for f in faults]


# --- CBR --------------------------------------------------------------------------------------


@dataclass
class CbrCase:
    warehouse: Warehouse
    front: FaultyFront
    fake: object

    def inject(self, fault: Fault, times: int, path: str = DYNAMIC) -> None:
        if fault.kind in RAW:
            self.front.faults.extend([RawFault(RAW[fault.kind], path)] * times)
        elif fault.kind == "redirect-loop":
            self.fake.faults.extend([redirect_loop(path)] * 10 * times)
        else:
            self.fake.faults.extend([cbr_fault(fault.kind, path)] * times)

    def run(self) -> dict:
        from flows.rates import ingest_rates

        return ingest_rates(**WINDOW, data_dir=str(self.warehouse.root),
                            cbr_url=self.front.url("/scripts/"))


def cbr_fault(kind: str, path: str):
    if kind in ("500", "503"):
        return status(int(kind), path=path)
    if kind == "429":
        return status(429, {"Retry-After": "0"}, path=path)
    if kind == "empty":
        return body(b"", "application/xml; charset=windows-1251", path=path)
    if kind == "html-200":
        return body(HTML_ERROR_PAGE, path=path)
    if kind == "wrong-encoding":
        # What a misconfigured proxy does: re-encodes to UTF-8, keeps the declaration.
        document = ('<?xml version="1.0" encoding="windows-1251"?>'
                    '<ValCurs ID="R01375" DateRange1="28.03.2025" DateRange2="03.04.2025" '
                    'name="Иностранная валюта Индийская рупия">'
                    '<Record Date="01.04.2025" Id="R01375"><Nominal>1</Nominal>'
                    "<Value>11,7136</Value></Record></ValCurs>")
        return body(document.encode("utf-8"), "application/xml; charset=windows-1251",
                    path=path)
    raise ValueError(kind)


@pytest.fixture(scope="module")
def cbr_states(tmp_path_factory, cbr_service, prefect_harness):
    """A warehouse with rates up to 31 March, and the content a clean run of WINDOW gives it."""
    from flows.rates import ingest_rates

    with pytest.MonkeyPatch.context() as monkeypatch:
        fast_env(monkeypatch)
        cbr_service.faults.clear()
        before = tmp_path_factory.mktemp("cbr") / "before"
        ingest_rates(**BEFORE, data_dir=str(before), cbr_url=cbr_service.url)
        after = before.parent / "after"
        shutil.copytree(before, after)
        summary = ingest_rates(**WINDOW, data_dir=str(after), cbr_url=cbr_service.url)
    assert summary["inserted"] > 0
    return before, snapshot(Warehouse(after))


@pytest.fixture
def cbr(cbr_states, fake_cbr, tmp_path, monkeypatch):
    fast_env(monkeypatch)
    root = tmp_path / "data"
    shutil.copytree(cbr_states[0], root)
    upstream = fake_cbr.url.split("/scripts/")[0]
    with FaultyFront(upstream, hang_seconds=READ_TIMEOUT * 3) as front:
        yield CbrCase(Warehouse(root, lock_timeout=5), front, fake_cbr)


@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f.kind)
def test_cbr_transient_fault_is_retried_then_the_run_succeeds(cbr, cbr_states, fault,
                                                              reliability):
    cbr.inject(fault, times=2)
    summary = cbr.run()
    attempts = cbr.front.actions(DYNAMIC)
    # Two documents, two faults: four requests, each fault followed by a retry.
    assert len(attempts) == 4
    after = snapshot(cbr.warehouse)
    assert after == cbr_states[1]
    assert summary["inserted"] == 6  # 1-3 April for CNY and KZT
    assert [r["status"] for r in cbr.warehouse.read(LOADS).to_pylist()][-1] == "completed"
    assert leftovers(cbr.warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(cbr.warehouse.root)
    reliability.record(
        "faults: CBR", f"{fault.kind}, twice, then served", fault.injected,
        f"retried ({len(attempts)} requests for 2 documents); run completed; "
        "warehouse equals a clean run",
        rows_lost=lost_rows(cbr_states[1], after), partial_files=partial_files(cbr.warehouse.root))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.kind)
def test_cbr_persistent_fault_ends_the_run_clearly_and_changes_no_data(cbr, fault,
                                                                       reliability):
    before = data_files(cbr.warehouse)
    before_rows = snapshot(cbr.warehouse)
    loads_before = cbr.warehouse.read(LOADS).num_rows
    cbr.inject(fault, times=12)
    with pytest.raises(fault.error) as raised:
        cbr.run()
    assert re.search(fault.message, str(raised.value), re.DOTALL), str(raised.value)
    requests = len(cbr.front.actions(DYNAMIC))
    if fault.transient:
        assert requests >= 4  # every attempt of at least one document
    elif fault.kind == "redirect-loop":
        assert requests in (6, 12)  # per document: the request and five redirects, refused
    else:
        assert requests <= 2  # never retried (two documents fetched in parallel)
    assert data_files(cbr.warehouse) == before
    loads = cbr.warehouse.read(LOADS).to_pylist()
    assert len(loads) == loads_before + 1
    failed = max(loads, key=lambda r: r["started_at"])
    assert failed["status"] == "failed" and str(raised.value)[:60] in failed["message"]
    assert leftovers(cbr.warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(cbr.warehouse.root)
    reliability.record(
        "faults: CBR", f"{fault.kind}, persistent", fault.injected,
        f"run failed: {type(raised.value).__name__}: {_short(raised.value)}; "
        "data files byte-identical, one 'failed' loads row",
        rows_lost=lost_rows(before_rows, snapshot(cbr.warehouse)),
        partial_files=partial_files(cbr.warehouse.root))


@pytest.mark.parametrize("retry_after", ["1", "http-date"])
def test_cbr_429_waits_as_long_as_retry_after_says(cbr, cbr_states, retry_after, reliability):
    def too_many(request):
        # An HTTP date is made when answering, two seconds ahead (one-second resolution).
        value = "1" if retry_after == "1" else email.utils.formatdate(time.time() + 2,
                                                                     usegmt=True)
        shown.append(value)
        return Response("slow down", status=429, headers={"Retry-After": value})

    shown: list[str] = []
    too_many.path = DYNAMIC
    cbr.fake.faults.append(too_many)
    cbr.run()
    attempts = cbr.front.to(DYNAMIC)
    assert len(attempts) == 3
    waited = max(b.at - a.at for a, b in itertools.pairwise(attempts))
    assert waited >= 0.95
    assert snapshot(cbr.warehouse) == cbr_states[1]
    reliability.record(
        "faults: CBR", f"429 with Retry-After: {retry_after}", f"HTTP 429, Retry-After: {shown[0]}",
        f"waited {waited:.1f} s before retrying; run completed; warehouse equals a clean run")


def test_cbr_429_asking_for_an_hour_gives_up_at_once(cbr, reliability):
    before = data_files(cbr.warehouse)
    cbr.fake.faults.extend([status(429, {"Retry-After": "3600"}, path=DYNAMIC)] * 2)
    started = time.monotonic()
    with pytest.raises(TransientSourceError, match="asked us to wait 3600 s"):
        cbr.run()
    assert time.monotonic() - started < 30
    assert len(cbr.front.actions(DYNAMIC)) <= 2
    assert data_files(cbr.warehouse) == before
    reliability.record("faults: CBR", "429 with Retry-After: 3600", "HTTP 429, Retry-After: 3600",
                       "no hammering, no stall: run failed at once, 'asked us to wait 3600 s'")


# --- news -------------------------------------------------------------------------------------


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
    from flows.news import ingest_news

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
        from flows.news import ingest_news

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
    assert f"1 of 1 news sources failed — {news_case.feed}: " in message
    expected = {"html-200": "no dated headlines"}.get(fault.kind, fault.message)
    assert re.search(expected, message, re.DOTALL), message
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
    from flows.news import ingest_news

    def run():
        return ingest_news(feeds=[feed], fetch_articles=True,
                           data_dir=str(news_case.warehouse.root))

    def interview() -> dict:
        return next(r for r in news_case.warehouse.read(NEWS).to_pylist()
                    if r["guid"] == "tag:infoshos.ru,2011-05-23:/en/idn/9472")

    news_case.inject(fault, times=12, path=page)
    run()  # the run completes: an article page is optional, retried next run
    failed = interview()
    assert failed["body"] is None and failed["article_attempts"] == 1
    assert failed["article_error"]
    site.scripts.clear()
    front.faults.clear()
    run()
    assert interview()["body"].startswith("Ahead of the 10th anniversary summit")
    assert leftovers(news_case.warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    reliability.record(
        "faults: news article", f"{fault.kind}, persistent on an article page", fault.injected,
        f"item stored without body, article_error '{_short(failed['article_error'], 70)}'; "
        "run completed; next run filled the body")


def _short(error: object, limit: int = 90) -> str:
    text = " ".join(str(error).split())
    text = re.sub(r"http://127\.0\.0\.1:\d+", "<server>", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
