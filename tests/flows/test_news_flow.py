"""The `ingest_news` flow end to end, against a local news site serving the fixtures."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pyarrow.compute as pc
import pytest

from sco_etl.schemas import FEED_STATE, LOADS, NEWS, NEWS_REVISIONS, QUARANTINE
from sco_etl.schemas.errors import SourceError
from sco_etl.warehouse import Warehouse, run_query
from tests.fakes.news_site import FIXTURES, HTML, NewsSite, Page, fixture
from tests.fakes.reliability import data_files, table_partitions

UTC = dt.UTC


@pytest.fixture
def site(httpserver) -> NewsSite:
    return NewsSite(httpserver)


@pytest.fixture
def data(monkeypatch, tmp_path, prefect_harness) -> Path:
    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "5")
    return tmp_path / "data"


def ingest(data: Path, *feeds: str, articles: bool = False, **limits: int) -> dict:
    from sco_etl.flows.news import ingest_news

    return ingest_news(feeds=list(feeds), fetch_articles=articles, data_dir=str(data), **limits)


def news(data: Path) -> dict[str, dict]:
    return {row["guid"] or row["url"]: row for row in Warehouse(data).read(NEWS).to_pylist()}


def files(data: Path) -> dict[str, bytes]:
    """Every data file of the current snapshot but the loads ledger's, with its bytes."""
    return data_files(Warehouse(data))


def only(result: dict) -> dict:
    (row,) = result["sources"]
    return row


def test_rss_snapshots_in_turn_second_adds_exactly_two(site, data):
    feed = site.serve("/rss.xml", fixture("rss_en_2019-12-17.xml"))
    first = only(ingest(data, feed))
    (load,) = Warehouse(data).read(LOADS).to_pylist()
    assert load["flow"] == "ingest-news" and load["status"] == "completed"
    assert json.loads(load["parameters"]) == {"feeds": [feed], "fetch_articles": False}
    assert load["message"] == "15 new items, 0 updated, 0 rejected"
    site.serve("/rss.xml", fixture("rss_en_2020-01-13.xml"))
    second = only(ingest(data, feed))
    assert (first["new"], first["updated"], first["unchanged"]) == (15, 0, 0)
    assert (second["new"], second["updated"], second["unchanged"]) == (2, 0, 8)
    headlines = run_query(Warehouse(data), "SELECT published_msk, title FROM news_feed")
    assert headlines.num_rows == 17
    assert headlines.slice(0, 3).to_pylist() == [
        {"published_msk": "13.01.2020 14:10",
         "title": "SCO Secretary-General meets with Turkmenistans Ambassador to China"},
        {"published_msk": "13.01.2020 13:58", "title": "The SCO Secretary-General met with "
         "the Ambassador of the Islamic Republic of Iran to China"},
        {"published_msk": "17.12.2019 11:28",
         "title": "Chinas Foreign Minister Calls For Free Trade Deal With EU"},
    ]
    assert pc.max(Warehouse(data).read(NEWS)["published_at"]).as_py() == dt.datetime(
        2020, 1, 13, 11, 10, tzinfo=UTC)
    assert table_partitions(Warehouse(data), "news") == [
        f"news/year=2019/month={m}" for m in (10, 11, 12, 7, 9)] + ["news/year=2020/month=1"]


def test_repeated_run_with_nothing_new_writes_nothing(site, data):
    snapshot = fixture("rss_en_2019-12-17.xml")
    feeds = [
        site.serve("/rss.xml", snapshot),
        site.serve("/atom.xml", fixture("atom_en.xml"), "application/atom+xml"),
        site.serve("/en/", fixture("news_list_en.html"), HTML),
        site.serve("/tricky.xml", fixture("tricky_items_en.xml")),
        site.serve("/truncated.xml", fixture("tricky_truncated.xml")),
    ]
    ingest(data, *feeds)
    before = files(data)
    again = ingest(data, *feeds)  # same bytes: not even parsed (except the degraded one)
    assert files(data) == before
    assert [r["fetch"] for r in again["sources"]][:4] == ["200, same document as last time"] * 4
    # A new build date makes the document differ: parsed again, every item unchanged.
    site.serve("/rss.xml", snapshot.replace(b"12:00:00 +0300</lastBuild",
                                            b"12:30:00 +0300</lastBuild"))
    third = ingest(data, *feeds)
    changed = {name.split("/")[2] for name, content in files(data).items()
               if before.get(name) != content}
    assert changed == {"feed_state"}  # the new document's hash, nothing else
    assert (third["inserted"], third["updated"], third["sources"][0]["unchanged"]) == (0, 0, 15)
    loads = Warehouse(data).read(LOADS).to_pylist()
    assert [(r["status"], r["rows_written"]) for r in loads] == [
        ("completed", 15 + 3 + 17 + 11 + 3), ("completed", 0), ("completed", 0)]


def test_edited_item_updates_its_row_and_keeps_a_revision(site, data):
    snapshot = fixture("rss_en_2019-12-17.xml")
    feed = site.serve("/rss.xml", snapshot)
    ingest(data, feed)
    edited = snapshot.replace(b"<title>Chinas Foreign", b"<title>China&#8217;s Foreign", 1)
    # ... and another item re-dated into the next month: it moves partition, not duplicated.
    edited = edited.replace(b"Wed, 11 Dec 2019 13:58:00", b"Wed, 01 Jan 2020 13:58:00")
    site.serve("/rss.xml", edited)
    result = only(ingest(data, feed))
    assert (result["new"], result["updated"], result["unchanged"]) == (0, 2, 13)
    rows = news(data)
    assert len(rows) == 15
    assert rows["infoshos-en-21391"]["title"] == (
        "China’s Foreign Minister Calls For Free Trade Deal With EU")
    assert rows["infoshos-en-21366"]["published_at"] == dt.datetime(2020, 1, 1, 10, 58,
                                                                    tzinfo=UTC)
    (revision,) = Warehouse(data).read(NEWS_REVISIONS).to_pylist()
    assert revision["old_title"] == "Chinas Foreign Minister Calls For Free Trade Deal With EU"
    assert revision["item_id"] == rows["infoshos-en-21391"]["item_id"]
    assert revision["new_content_hash"] == rows["infoshos-en-21391"]["content_hash"]
    assert "news/year=2020/month=1" in table_partitions(Warehouse(data), "news")
    in_january = Warehouse(data).read(NEWS, where="published_at >= '2020-01-01 00:00:00+00' "
                                                  "AND published_at < '2020-02-01 00:00:00+00'")
    assert in_january.num_rows == 1


def test_same_story_from_two_sources_is_linked_not_lost(site, data):
    rss = site.serve("/rss.xml", fixture("rss_en_2019-12-17.xml"))
    tricky = site.serve("/tricky.xml", fixture("tricky_items_en.xml"))
    ingest(data, rss, tricky)
    rows = Warehouse(data).read(NEWS).to_pylist()
    by_source = {(r["source"], r["guid"] or r["link"]): r for r in rows}
    t5 = by_source[(tricky, "/en/?idn=21195")]
    t11 = by_source[(tricky, "https://infoshos.ru/en/?idn=21195&utm_source=rss")]
    original = by_source[(rss, "infoshos-en-21195")]
    assert original["duplicate_of"] is None
    assert t5["duplicate_of"] == t11["duplicate_of"] == original["item_id"]
    assert len(rows) == 15 + 11
    shown = run_query(Warehouse(data), "SELECT count(*) AS n FROM news_feed").to_pylist()
    assert shown == [{"n": 15}]  # T1..T11 are all stories of the snapshot
    # T2's first version is kept as a revision of the corrected item
    (revision,) = Warehouse(data).read(NEWS_REVISIONS).to_pylist()
    assert revision["old_title"] == "Chinas Foreign Minister Calls For Free Trade Deal With EU"


def test_source_down_fails_that_source_only(site, data):
    good = site.serve("/rss.xml", fixture("rss_en_2019-12-17.xml"))
    storm = site.serve("/storm.xml", b"oops", "text/plain", status=503)
    refused = "http://127.0.0.1:9/feed.xml"  # discard port: connection refused
    with pytest.raises(SourceError) as failure:
        ingest(data, good, storm, refused)
    message = str(failure.value)
    assert message.startswith(f"2 of 3 news sources failed: {storm} (HTTP 503); {refused} "
                              "(connection refused). The others were written (15 new items")
    assert message.count(storm) == message.count(refused) == 1
    summary = failure.value.summary  # the failed run still says what it did
    assert [(r["source"], r["status"], r["new"]) for r in summary["sources"]] == [
        (good, "ok", 15), (storm, "failed", 0), (refused, "failed", 0)]
    assert len(site.requests_to("/storm.xml")) == 3  # retried: a 5xx is transient
    warehouse = Warehouse(data)
    assert warehouse.read(NEWS).num_rows == 15
    states = {r["source"]: r for r in warehouse.read(FEED_STATE).to_pylist()}
    assert states[good]["status"] == "ok"
    assert states[storm]["status"] == states[refused]["status"] == "failed"
    assert states[storm]["message"] == "HTTP 503"
    assert states[refused]["message"] == "connection refused"
    (load,) = warehouse.read(LOADS).to_pylist()
    assert load["status"] == "failed" and load["rows_written"] == 15
    assert "source failed" in load["message"]


def test_conditional_get_sequence_of_http_exchanges(site, data):
    exchanges = json.loads((FIXTURES / "http_exchanges.json").read_text())["exchanges"]
    path = "/rss/rss_en.xml"
    pages = []
    for exchange in exchanges:
        headers = {k: v for k, v in exchange["response_headers"].items()
                   if k not in ("Content-Type", "Content-Length")}  # the body is cut already
        body = fixture(exchange["body_file"]) if exchange["body_file"] else None
        pages.append(Page(body, exchange["status"],
                          exchange["response_headers"].get("Content-Type"), headers))
    feed = site.script(path, pages)
    warehouse = Warehouse(data)
    outcomes = []
    for step in exchanges[:5]:
        before = files(data) if step["step"] > 1 else {}
        outcomes.append(only(ingest(data, feed)))
        sent = site.requests_to(path)[-1].headers
        for name, value in step["request_headers"].items():
            if name == "User-Agent":
                assert sent[name].startswith("sco-etl/")
            else:
                assert sent[name] == value, (step["step"], name)
        if step["step"] == 1:
            assert "If-None-Match" not in sent
        if step["step"] == 2:  # 304: no parse, nothing written but the ledger
            assert files(data) == before
    state = warehouse.read(FEED_STATE).to_pylist()[0]
    assert [o["fetch"].split(",")[0] for o in outcomes] == [
        "200", "304 not modified", "200", "200", "200"]
    assert [(o["new"], o["unchanged"], o["rejected"]) for o in outcomes] == [
        (15, 0, 0), (0, 0, 0), (2, 8, 0), (0, 3, 0), (0, 3, 1)]
    assert [o["status"] for o in outcomes] == ["ok", "ok", "ok", "degraded", "degraded"]
    # step 3 replaced the ETag though Last-Modified stayed; degraded steps 4-5 kept it
    assert state["etag"] == '"5e1c7d11-0ff2"'
    assert state["last_modified"] == "Tue, 17 Dec 2019 09:00:00 GMT"
    assert warehouse.read(NEWS).num_rows == 17
    (quarantined,) = warehouse.read(QUARANTINE).to_pylist()
    assert "cut off" in quarantined["reason"]
    # step 6: 429 asking for an hour: one request, no hammering, a clear message
    with pytest.raises(SourceError, match="asked us to wait 3600 s"):
        ingest(data, feed)
    assert len(site.requests_to(path)) == 6
    state = warehouse.read(FEED_STATE).to_pylist()[0]
    assert state["status"] == "failed" and state["etag"] == '"5e1c7d11-0ff2"'


def test_articles_fill_bodies_and_failures_are_counted_and_retried_later(site, data):
    feed = site.serve("/atom.xml", site.local("atom_en.xml"), "application/atom+xml")
    article = fixture("article_en_moiseev_interview.html")
    site.serve("/en/?idn=9472", article, HTML)
    first = ingest(data, feed, articles=True, max_article_attempts=2)
    rows = news(data)
    interview = rows["tag:infoshos.ru,2011-05-23:/en/idn/9472"]
    assert interview["body"].count("\n\n") == 2 and interview["body_from"] == "article"
    assert interview["body"].startswith("Ahead of the 10th anniversary summit")
    assert interview["article_attempts"] == 1 and interview["article_error"] is None
    later = rows["tag:infoshos.ru,2020-01-13:/en/idn/21460"]
    assert later["body"] is None and later["article_attempts"] == 1
    assert later["article_error"] == "HTTP 404"
    # The summary counts the pages that failed, and names the first with its cause.
    assert (first["articles"], first["articles_failed"]) == (3, 2)
    assert first["first_article_failure"] == f"{site.url('/en/?idn=21460')} — HTTP 404"
    assert only(first)["articles_failed"] == 2
    (load,) = Warehouse(data).read(LOADS).to_pylist()
    assert load["message"].endswith(
        f"2 article pages failed (first: {site.url('/en/?idn=21460')} — HTTP 404)")
    assert load["requests"] == 4  # the feed and three pages, counted by the run
    # The page is back (another story); the other fails again: retried, not "updated".
    site.serve("/en/?idn=21460", article.replace(b"Ahead of the 10th", b"Before the 10th"), HTML)
    second = ingest(data, feed, articles=True, max_article_attempts=2)
    assert (second["inserted"], second["updated"], second["retried"]) == (0, 1, 1)
    # (the feed is the same document: not read again, its items are not counted)
    assert (only(second)["updated"], only(second)["retried"]) == (1, 1)
    rows = news(data)
    assert rows["tag:infoshos.ru,2020-01-13:/en/idn/21460"]["body"].startswith("Before the")
    assert rows["tag:infoshos.ru,2020-01-13:/en/idn/21459"]["article_attempts"] == 2
    ingest(data, feed, articles=True, max_article_attempts=2)  # used up: no third request
    assert len(site.requests_to("/en/?idn=21459")) == 2
    assert len(site.requests_to("/en/?idn=9472")) == 1


def test_the_feeds_own_full_text_is_the_body_until_an_article_page_gives_more(site, data):
    feed = site.serve("/atom.xml", site.local("atom_en.xml"), "application/atom+xml")
    ingest(data, feed)  # no article pages: the Atom <content> is the body
    interview = news(data)["tag:infoshos.ru,2011-05-23:/en/idn/9472"]
    assert interview["body_from"] == "feed"
    paragraphs = interview["body"].split("\n\n")
    assert len(paragraphs) == 3 and paragraphs[0].startswith("Ahead of the 10th anniversary")
    assert "There are aspirants for the status of an observer" in paragraphs[2]
    assert news(data)["tag:infoshos.ru,2020-01-13:/en/idn/21460"]["body_from"] is None
    # A page with less text than the feed's keeps the feed's body (and is not asked again).
    short = b"<html><body><td class='text'><p>Only one short paragraph.</p></td></body></html>"
    site.serve("/en/?idn=9472", short, HTML)
    ingest(data, feed, articles=True)
    interview = news(data)["tag:infoshos.ru,2011-05-23:/en/idn/9472"]
    assert (interview["body_from"], interview["article_attempts"]) == ("feed", 1)
    assert interview["article_error"] is None
    ingest(data, feed, articles=True)
    assert len(site.requests_to("/en/?idn=9472")) == 1


def test_a_page_served_for_every_link_is_boilerplate_never_a_body(site, data):
    """A listing whose links lead to a page that serves the listing itself for any `?idn=`:
    its footer must not become the articles' body (issue 18)."""
    footer = (b"<html><body><div class='news'><p>SCO news of the week and the month.</p></div>"
              b"<footer><p>The website has been created with the financial assistance of the "
              b"foundation, all rights reserved, copying is allowed with a link.</p></footer>"
              b"</body></html>")
    listing = site.serve("/en/", fixture("news_list_en.html").replace(
        b"http://www.infoshos.ru", site.base.encode()), HTML)
    for idn in (21460, 21459):
        site.serve(f"/en/?idn={idn}", footer, HTML)
    ingest(data, listing, articles=True, articles_per_run=1)  # one page: not known yet
    (stored,) = [r for r in news(data).values() if r["body"]]
    assert (stored["body_from"], stored["body"]) == ("article",
                                                     "SCO news of the week and the month.")
    second = ingest(data, listing, articles=True, articles_per_run=1)
    rows = Warehouse(data).read(NEWS).to_pylist()
    assert [r for r in rows if r["body"]] == []  # found again for another URL: cleared
    cleared = next(r for r in rows if r["item_id"] == stored["item_id"])
    assert cleared["body_from"] is None and "boilerplate" in cleared["article_error"]
    assert second["articles_failed"] == 1 and "boilerplate" in second["first_article_failure"]


def test_item_without_date_takes_the_article_date_else_first_seen(site, data):
    feed = (b'<rss version="2.0"><channel><link>' + site.base.encode() + b'/en/</link>'
            b"<item><title>Leonid Moiseev: World vests great hopes in SCO</title>"
            b"<link>?idn=9472</link><guid>9472</guid></item></channel></rss>")
    url = site.serve("/nodate.xml", feed)
    ingest(data, url)  # no article: the first sighting dates it
    row = news(data)["9472"]
    assert row["published_at_source"] == "first_seen"
    assert row["published_at"] == row["first_seen_at"]
    site.serve("/en/?idn=9472", fixture("article_en_moiseev_interview.html"), HTML)
    ingest(data, url, articles=True)  # the article page knows better: 10:00 MSK = 06:00 UTC
    rows = Warehouse(data).read(NEWS).to_pylist()
    assert len(rows) == 1
    assert rows[0]["published_at"] == dt.datetime(2011, 5, 23, 6, 0, tzinfo=UTC)
    assert rows[0]["published_at_source"] == "article"
    assert table_partitions(Warehouse(data), "news") == ["news/year=2011/month=5"]


def test_run_name_is_news_and_moscow_minute():
    from sco_etl.flows.news import news_run_name

    assert re.fullmatch(r"news-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", news_run_name())


def test_a_lake_of_an_earlier_release_loses_the_item_hashes_and_gains_body_from(site, data):
    """The raw item hashes of release 2 (a fast path for a 10,000-item feed) are dropped by
    the schema step; the bodies stored then (all from article pages) keep reading so."""
    from sco_etl.warehouse.lake import connect

    feed = site.serve("/atom.xml", site.local("atom_en.xml"), "application/atom+xml")
    site.serve("/en/?idn=9472", fixture("article_en_moiseev_interview.html"), HTML)
    ingest(data, feed, articles=True)
    body = news(data)["tag:infoshos.ru,2011-05-23:/en/idn/9472"]["body"]
    warehouse = Warehouse(data)
    connection = connect(warehouse.lake)
    connection.execute("CREATE TABLE news_item_hashes (item_id VARCHAR, raw_hash VARCHAR)")
    connection.execute("ALTER TABLE news DROP COLUMN body_from")
    connection.execute("UPDATE lake_meta SET schema_version = 2")
    connection.close()
    again = ingest(data, feed, articles=True)  # the run's schema step
    with Warehouse(data).reader() as reader:
        tables = {name for (name,) in reader.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'sco'").fetchall()}
    assert "news_item_hashes" not in tables and "news" in tables
    interview = news(data)["tag:infoshos.ru,2011-05-23:/en/idn/9472"]
    assert (interview["body"], interview["body_from"]) == (body, None)  # read as "article"
    assert again["articles"] == 2 and len(site.requests_to("/en/?idn=9472")) == 1  # the 404s
