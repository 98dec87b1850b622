"""The hostile and broken document corpus (`tests/hostile/`), through the parsers and the flows.

Every document in `tests/hostile/manifest.json` is served by a local server in place of a CBR
document or a news source, while a second local server plays the attacker's host that entity,
DTD, XInclude, stylesheet and link tricks point at. Each document must give what the manifest
says — a clear format error, a refusal, quarantined records with their reason, or clean stored
rows — and never a crash of the run, a partial write, a request to the attacker, or markup
stored as text.

The parser-level checks and the news run cover every document in the default run; the CBR
flow runs cover a representative subset by default and every document with `-m slow`.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from schemas import CURRENCIES, FEED_STATE, NEWS, QUARANTINE, RATES
from schemas.errors import ScoEtlError, SourceError, SourceFormatError, SourceRejectedError
from tasks.cbr.parse import parse_daily, parse_directory, parse_dynamic
from tasks.news.articles import extract_article
from tasks.news.extract import parse_document
from tasks.settings import MAX_BODY_BYTES
from tests.fakes.cbr_server import Canned
from tests.fakes.news_site import HTML, RSS, NewsSite, Page
from tests.fakes.reliability import (
    data_files,
    duplicate_keys,
    leftovers,
    lock_is_free,
    partial_files,
)
from warehouse import Warehouse

HOSTILE = Path(__file__).parents[1] / "hostile"
DOCUMENTS = json.loads((HOSTILE / "manifest.json").read_text(encoding="utf-8"))["documents"]
CBR_DOCUMENTS = [d for d in DOCUMENTS if d["target"].startswith("cbr_")]
NEWS_DOCUMENTS = [d for d in DOCUMENTS if d["target"].startswith("news_")]
QUICK_CBR = {
    "cbr-billion-laughs", "cbr-xxe-http", "cbr-dtd-fetch", "cbr-xinclude",
    "cbr-absurd-value-1e30", "cbr-unknown-currency-dynamic", "cbr-directory-hostile-codes",
    "cbr-gzip-bomb",
}
"""CBR documents run through the flow by default: every attacker-host trick, one of each
outcome and target. `-m slow` runs all of them."""
DAILY_RUN = {"start": "2025-04-01", "end": "2025-04-01",
             "currencies": ["CNY", "KZT", "KGS", "UZS", "INR"]}
DYNAMIC_RUN = {"start": "2025-03-25", "end": "2025-04-03", "currencies": ["CNY"]}
PATHS = {"cbr_daily": "XML_daily.asp", "cbr_dynamic": "XML_dynamic.asp",
         "cbr_directory": "XML_valFull.asp"}


class Attacker:
    """A host no document may make us contact: it records every request it gets."""

    def __init__(self) -> None:
        self.server = HTTPServer(threaded=True)
        self.hits: list[str] = []
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)
        self.server.start()
        self.url = self.server.url_for("").rstrip("/")

    def _handle(self, request: Request) -> Response:
        self.hits.append(request.full_path)
        return Response("pwned <!ENTITY x 'pwned'>", content_type="text/plain")


@pytest.fixture(scope="module")
def attacker():
    host = Attacker()
    yield host
    host.server.stop()


def document(doc: dict, attacker_url: str, site_url: str = "") -> bytes:
    """The document's bytes as served, placeholders filled in."""
    if doc.get("generator") == "gzip_bomb":
        return gzip.compress(b"\0" * (MAX_BODY_BYTES + 1024 * 1024), compresslevel=9)
    data = (HOSTILE / doc["file"]).read_bytes()
    return data.replace(b"{{ATTACKER}}", attacker_url.encode()).replace(
        b"{{SITE}}", site_url.encode())


def test_the_corpus_is_complete():
    ids = [d["id"] for d in DOCUMENTS]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
    for doc in DOCUMENTS:
        assert doc.get("generator") or (HOSTILE / doc["file"]).is_file(), doc["id"]
    files = {str(p.relative_to(HOSTILE)) for p in HOSTILE.rglob("*") if p.is_file()}
    assert files - {"manifest.json"} == {d["file"] for d in DOCUMENTS if "file" in d}


# --- parsers: every document, directly ---------------------------------------------------------


CBR_PARSERS = {"cbr_daily": parse_daily, "cbr_dynamic": parse_dynamic,
               "cbr_directory": parse_directory}


@pytest.mark.parametrize("doc", [d for d in CBR_DOCUMENTS if "file" in d], ids=lambda d: d["id"])
def test_cbr_parser_gives_a_format_error_or_records(doc, attacker):
    data = document(doc, attacker.url)
    parser = CBR_PARSERS[doc["target"]]
    if doc["expect"] == "format_error":
        with pytest.raises(SourceFormatError, match=doc["match"]):
            parser(data)
    else:
        parsed = parser(data)
        assert parsed is not None
    assert attacker.hits == []


@pytest.mark.parametrize("doc", [d for d in NEWS_DOCUMENTS if "file" in d], ids=lambda d: d["id"])
def test_news_parser_gives_a_format_error_or_items(doc, attacker):
    site = "http://news.example"
    data = document(doc, attacker.url, site)
    if doc["target"] == "news_article":
        article = extract_article(data, f"{site}/page", {"Content-Type": HTML})
        assert article.body == doc["body"]
    elif doc["expect"] == "source_failed":
        with pytest.raises(SourceFormatError, match=doc["match"]):
            parse_document(data, f"{site}/feed", {"Content-Type": RSS})
    else:
        kind = HTML if doc["target"] == "news_listing" else RSS
        parsed = parse_document(data, f"{site}/feed", {"Content-Type": kind})
        assert parsed.items
    assert attacker.hits == []


# --- regressions of what the corpus found (issue 5) ---------------------------------------------


def test_a_duplicated_element_is_a_bad_record_not_its_last_value():
    data = (HOSTILE / "cbr" / "duplicated_value_element.xml").read_bytes()
    parsed = parse_daily(data)
    assert [r.char_code for r in parsed.records] == ["KZT", "KGS", "UZS", "INR"]
    (bad,) = parsed.bad
    assert bad.reason == "duplicated element <Value>"


def test_a_record_refused_before_validation_is_quarantined_not_a_crash():
    import datetime as dt

    from tasks.cbr.currencies import Directory, resolve
    from tasks.cbr.extract import parse_documents
    from tasks.cbr.planning import DynamicRequest
    from tasks.ledger import RunInfo

    data = (HOSTILE / "cbr" / "unknown_currency_dynamic.xml").read_bytes()
    directory = Directory({"R01375": {"cbr_id": "R01375", "char_code": "CNY", "num_code": "156",
                                      "frequency": "daily"}})
    request = DynamicRequest("R01375", dt.date(2025, 3, 25), dt.date(2025, 4, 3))
    batch = parse_documents([(request, data)], directory, resolve(directory, ["CNY"]),
                            RunInfo("run", "ingest-rates", {}))
    assert batch.rows.num_rows == 2
    (rejected,) = batch.rejected
    assert rejected.reason == "unknown currency ID R99999"
    assert rejected.record["cbr_id"] == "R99999"
    assert parse_dynamic(data).cbr_id == "R01375"


@pytest.mark.parametrize(("source", "link", "fetched"), [
    ("http://www.infoshos.ru/rss/rss_en.xml", "http://www.infoshos.ru/en/?idn=1", True),
    ("http://www.infoshos.ru/rss/rss_en.xml", "https://infoshos.ru/en/?idn=1", True),
    ("http://rss.infoshos.ru/en.xml", "http://www.infoshos.ru/en/?idn=1", True),
    ("http://www.infoshos.ru/en/", "http://169.254.169.254/latest/meta-data/", False),
    ("http://www.infoshos.ru/en/", "http://localhost:8080/admin", False),
    ("http://www.infoshos.ru/en/", "http://evil-infoshos.ru/", False),
    ("http://www.infoshos.ru/en/", "http://infoshos.ru.evil.example/", False),
    ("http://127.0.0.1:5000/feed", "http://127.0.0.1:5001/page", False),
    ("http://127.0.0.1:5000/feed", "http://127.0.0.1:99999/page", False),
])
def test_article_pages_are_fetched_only_on_the_source_site(source, link, fetched):
    from tasks.news.rows import same_site

    assert same_site(source, link) is fetched


def test_an_empty_feed_body_says_so():
    with pytest.raises(SourceFormatError, match="empty response body"):
        parse_document(b"  \n", "http://news.example/feed", {"Content-Type": RSS})


# --- CBR documents through ingest_rates ---------------------------------------------------------


@pytest.fixture(scope="module")
def cbr_baseline(tmp_path_factory, cbr_service, prefect_harness):
    """A warehouse with the week before 1 April for the five currencies of the daily run."""
    import datetime as dt

    from flows.rates import ingest_rates

    root = tmp_path_factory.mktemp("hostile-cbr") / "data"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
        monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
        cbr_service.faults.clear()
        ingest_rates(start=dt.date(2025, 3, 24), end=dt.date(2025, 3, 31),
                     currencies=DAILY_RUN["currencies"], data_dir=str(root),
                     cbr_url=cbr_service.url)
    return root


def serve(doc: dict, data: bytes) -> Canned:
    headers = {"Content-Encoding": "gzip"} if doc.get("generator") == "gzip_bomb" else {}
    return Canned(lambda: Response(data, status=200, headers=headers,
                                   content_type="application/xml; charset=windows-1251"),
                  PATHS[doc["target"]])


@pytest.mark.parametrize("doc", [
    pytest.param(d, id=d["id"], marks=() if d["id"] in QUICK_CBR else pytest.mark.slow)
    for d in CBR_DOCUMENTS])
def test_cbr_document_through_the_flow(doc, cbr_baseline, fake_cbr, attacker, tmp_path,
                                       monkeypatch, prefect_harness, reliability):
    import datetime as dt

    from flows.rates import ingest_rates

    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    root = tmp_path / "data"
    shutil.copytree(cbr_baseline, root)
    warehouse = Warehouse(root, lock_timeout=5)
    before = data_files(warehouse)
    stored_keys = _keys(warehouse)
    quarantined_before = warehouse.read(QUARANTINE).num_rows
    plan = DYNAMIC_RUN if doc["target"] == "cbr_dynamic" else DAILY_RUN
    fake_cbr.faults.append(serve(doc, document(doc, attacker.url)))
    error = None
    try:
        ingest_rates(start=dt.date.fromisoformat(plan["start"]),
                     end=dt.date.fromisoformat(plan["end"]), currencies=plan["currencies"],
                     data_dir=str(root), cbr_url=fake_cbr.url)
    except ScoEtlError as e:  # anything else is a crash of the run: the test fails
        error = e
    assert attacker.hits == []
    assert leftovers(root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(root) and duplicate_keys(warehouse) == {}
    new_rates = [r for r in warehouse.read(RATES).to_pylist()
                 if (r["rate_date"], r["cbr_id"]) not in stored_keys]
    quarantine = warehouse.read(QUARANTINE).to_pylist()[quarantined_before:]
    expect = doc["expect"]
    if expect in ("format_error", "refused"):
        wanted = SourceFormatError if expect == "format_error" else SourceRejectedError
        assert isinstance(error, wanted), error
        assert re.search(doc["match"], str(error)), str(error)
        assert data_files(warehouse) == before
        outcome = f"{expect.replace('_', ' ')}: {_short(error)}; data files byte-identical"
    else:
        assert error is None, error
        if "stored" in doc:
            assert len(new_rates) == doc["stored"], new_rates
        if expect == "quarantined":
            assert quarantine and all(re.search(doc["match"], q["reason"]) for q in quarantine), (
                [q["reason"] for q in quarantine])
            outcome = (f"quarantined {len(quarantine)} record(s): "
                       f"{_short(quarantine[0]['reason'], 70)}; {len(new_rates)} good rows stored")
        else:
            assert quarantine == []
            outcome = f"stored {len(new_rates)} rows; nothing fetched from the attacker"
        for row in warehouse.read(CURRENCIES).to_pylist():
            assert re.fullmatch(r"R\d{5}[A-Z]?", row["cbr_id"]), row
            assert row["char_code"] is None or re.fullmatch("[A-Z]{3}", row["char_code"]), row
    reliability.record("hostile: CBR", doc["id"], doc["covers"], outcome,
                       rows_lost=0 if expect != "format_error" or data_files(warehouse) == before
                       else None, partial_files=partial_files(root),
                       attacker_requests=len(attacker.hits), target=doc["target"])


# --- news documents through ingest_news --------------------------------------------------------


@dataclass
class NewsOutcome:
    warehouse: Warehouse
    sources: dict[str, str]
    error: Exception | None


@pytest.fixture(scope="module")
def news_outcome(tmp_path_factory, attacker, prefect_harness):
    """One news run over every hostile news document, each its own source."""
    from flows.news import ingest_news

    server = HTTPServer(threaded=True)
    server.start()
    site = NewsSite(server)
    sources = {}
    for doc in NEWS_DOCUMENTS:
        data = document(doc, attacker.url, site.base)
        path = f"/hostile/{doc['id']}"
        if doc["target"] == "news_article":
            site.serve(path + "/page", data, HTML)
            data = (f'<rss version="2.0"><channel><title>t</title><link>{site.base}/</link>'
                    f"<item><title>Article of {doc['id']}</title><link>{site.base}{path}/page"
                    f"</link><guid>{doc['id']}</guid><pubDate>Mon, 13 Jan 2020 14:10:00 +0300"
                    "</pubDate></item></channel></rss>").encode()
        if doc.get("generator") == "gzip_bomb":
            site.pages[path] = Page(data, 200, RSS, {"Content-Encoding": "gzip"})
            sources[doc["id"]] = site.url(path)
        else:
            kind = HTML if doc["target"] == "news_listing" else RSS
            sources[doc["id"]] = site.serve(path, data, kind)
    root = tmp_path_factory.mktemp("hostile-news") / "data"
    error = None
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
        monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
        try:
            ingest_news(feeds=list(sources.values()), fetch_articles=True, data_dir=str(root))
        except SourceError as e:  # the failing sources are expected; any other error is a crash
            error = e
    yield NewsOutcome(Warehouse(root), sources, error)
    server.stop()


def test_news_run_over_the_corpus_writes_only_clean_rows(news_outcome, attacker):
    warehouse = news_outcome.warehouse
    assert attacker.hits == []
    failed = [d for d in NEWS_DOCUMENTS if d["expect"] == "source_failed"]
    assert f"{len(failed)} of {len(NEWS_DOCUMENTS)} news sources failed" in str(
        news_outcome.error)
    rows = warehouse.read(NEWS).to_pylist()
    assert rows
    for row in rows:
        for column in ("title", "summary", "author"):
            assert not re.search(r"<\s*[A-Za-z/!]", row[column] or ""), row[column]
        assert row["link"].startswith(("http://", "https://")), row["link"]
        assert row["url"].startswith("https://")
        assert "javascript:" not in (row["summary_html"] or "").lower()
    assert leftovers(warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert duplicate_keys(warehouse) == {}


@pytest.mark.parametrize("doc", NEWS_DOCUMENTS, ids=lambda d: d["id"])
def test_news_document_gives_its_expected_outcome(doc, news_outcome, attacker, reliability):
    warehouse = news_outcome.warehouse
    source = news_outcome.sources[doc["id"]]
    rows = [r for r in warehouse.read(NEWS).to_pylist() if r["source"] == source]
    state = next(s for s in warehouse.read(FEED_STATE).to_pylist() if s["source"] == source)
    quarantine = [q for q in warehouse.read(QUARANTINE).to_pylist()
                  if json.loads(q["record"]).get("source") == source]
    expect = doc["expect"]
    if expect == "source_failed":
        assert state["status"] == "failed" and re.search(doc["match"], state["message"]), state
        assert rows == []
        outcome = f"source failed: {_short(state['message'], 80)}"
    elif expect == "quarantined":
        assert quarantine and any(re.search(doc["match"], q["reason"]) for q in quarantine), (
            [q["reason"] for q in quarantine])
        outcome = (f"quarantined {len(quarantine)}: {_short(quarantine[0]['reason'], 60)}; "
                   f"{len(rows)} clean item(s) stored")
    else:
        assert state["status"] in ("ok", "degraded"), state
        outcome = f"stored {len(rows)} item(s), source {state['status']}"
    if "guid" in doc or "title" in doc or doc["target"] == "news_article":
        guid = doc.get("guid", doc["id"])
        candidates = [r for r in rows if r["guid"] == guid or (
            "guid" not in doc and r["title"] == doc.get("title"))]
        assert len(candidates) == 1, [(r["guid"], r["title"]) for r in rows]
        (row,) = candidates
        if "title" in doc:
            assert row["title"] == doc["title"]
            outcome += f"; title stored as {row['title']!r}"
        if "body" in doc:
            assert row["body"] == doc["body"], row["body"]
            if doc["body"] is None:
                assert row["article_attempts"] == 0
                outcome += "; its article on another host never requested"
    for row in rows:
        text = " ".join(str(row[c] or "") for c in (
            "title", "summary", "summary_html", "body", "author", "link", "url"))
        for forbidden in doc.get("forbid", []):
            assert forbidden not in text, (forbidden, row)
    assert attacker.hits == []
    reliability.record("hostile: news", doc["id"], doc["covers"], outcome,
                       partial_files=partial_files(warehouse.root),
                       attacker_requests=len(attacker.hits), target=doc["target"])


def _keys(warehouse: Warehouse) -> set[tuple]:
    return {(r["rate_date"], r["cbr_id"])
            for r in warehouse.read(RATES, columns=["rate_date", "cbr_id"]).to_pylist()}


def _short(error: object, limit: int = 90) -> str:
    text = " ".join(str(error).split())
    text = re.sub(r"http://(127\.0\.0\.1|localhost):\d+", "<server>", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
