"""The hostile and broken document corpus (`tests/fakes/hostile.py`) through the flows.

Each document is served by a local server in place of a CBR document or a news source, to the
real `ingest_rates` and `ingest_news`, while a second local server plays the attacker's host.
The news run covers every document in the default run; the CBR flow runs cover a
representative subset by default and every document with `-m slow`.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from sco_etl.schemas import CURRENCIES, FEED_STATE, NEWS, QUARANTINE, RATES
from sco_etl.schemas.errors import ScoEtlError, SourceError, SourceFormatError, SourceRejectedError
from sco_etl.warehouse import Warehouse
from tests.fakes.cbr_server import Canned
from tests.fakes.hostile import CBR_DOCUMENTS, NEWS_DOCUMENTS, _short, document
from tests.fakes.news_site import HTML, RSS, NewsSite, Page
from tests.fakes.reliability import (
    data_files,
    duplicate_keys,
    leftovers,
    lock_is_free,
    partial_files,
)

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


# --- CBR documents through ingest_rates ---------------------------------------------------------


@pytest.fixture(scope="module")
def cbr_baseline(tmp_path_factory, cbr_service, prefect_harness):
    """A warehouse with the week before 1 April for the five currencies of the daily run."""
    import datetime as dt

    from sco_etl.flows.rates import ingest_rates

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

    from sco_etl.flows.rates import ingest_rates

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
    from sco_etl.flows.news import ingest_news

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
        for column in ("title", "summary", "author", "body"):
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
