"""Pure joins of candidates with stored rows and article pages; storing them, no Prefect."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from requests.structures import CaseInsensitiveDict

from sco_etl.schemas.news import NEWS, NEWS_REVISIONS
from sco_etl.tasks.news.client import ARTICLE_PAGES as ARTICLE_RESULT
from sco_etl.tasks.news.documents import parse_document
from sco_etl.tasks.news.normalise import normalise_document
from sco_etl.tasks.news.plan import article_links
from sco_etl.tasks.news.rows import build_rows
from sco_etl.tasks.run import Run
from sco_etl.warehouse import Warehouse
from tests.fakes.news_site import fixture

UTC = dt.UTC
SOURCE = "http://www.infoshos.ru/rss/rss_en.xml"
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
NO_PAGES = ARTICLE_RESULT.empty_table()


def candidates(body: bytes):
    document = parse_document(body, SOURCE, CaseInsensitiveDict())
    return normalise_document(SOURCE, document)


def join(found, stored: pa.Table | None = None, pages: pa.Table = NO_PAGES, run: str = "r1",
         same_bodies: pa.Table | None = None):
    stored = NEWS.empty() if stored is None else stored
    urls = stored.select(["item_id", "url", "duplicate_of", "first_seen_at"])
    return build_rows(found, stored, urls, pages, Run(run, "ingest-news", {}), NOW,
                      same_bodies=same_bodies)


def test_first_load_dates_links_and_counts():
    batch = join(candidates(fixture("tricky_items_en.xml")))
    rows = {r["guid"] or r["link"]: r for r in batch.rows.to_pylist()}
    assert batch.counts == {SOURCE: {"new": 11}}
    undated = rows["infoshos-en-21356"]  # T1: no date anywhere yet
    assert (undated["published_at"], undated["published_at_source"]) == (NOW, "first_seen")
    assert rows["infoshos-en-21358"]["published_at_source"] == "feed"
    t5 = rows["/en/?idn=21195"]
    t11 = rows["https://infoshos.ru/en/?idn=21195&utm_source=rss"]
    assert t5["duplicate_of"] is None and t11["duplicate_of"] == t5["item_id"]
    (revision,) = batch.revisions.to_pylist()  # T2's first version
    assert revision["old_title"] == "Chinas Foreign Minister Calls For Free Trade Deal With EU"
    assert batch.moved.num_rows == 0 and not batch.rejected


def test_article_page_dates_an_undated_item_and_fills_its_body():
    found = candidates(fixture("tricky_items_en.xml"))
    first = join(found)
    link = "http://www.infoshos.ru/en/?idn=21356"
    assert link in article_links(found.rows, first.rows, max_attempts=3, limit=200)
    page = pa.Table.from_pylist([{"link": link, "body": "One.\n\nTwo.", "author": "A. Author",
                                  "published_at": dt.datetime(2019, 12, 9, 12, 5, tzinfo=UTC)}],
                                schema=ARTICLE_RESULT)
    second = join(found, first.rows, page, run="r2")
    row = next(r for r in second.rows.to_pylist() if r["guid"] == "infoshos-en-21356")
    assert row["published_at"] == dt.datetime(2019, 12, 9, 12, 5, tzinfo=UTC)
    assert row["published_at_source"] == "article"
    assert (row["body"], row["author"], row["article_attempts"]) == ("One.\n\nTwo.",
                                                                      "A. Author", 1)
    assert row["first_seen_at"] == NOW
    # dated by the article now: it leaves the first-seen month's partition
    assert second.moved["item_id"].to_pylist() == [row["item_id"]]
    assert second.counts[SOURCE] == {"unchanged": 10, "updated": 1}


def test_writer_moves_a_redated_row_instead_of_duplicating_it(tmp_path):
    found = candidates(fixture("tricky_items_en.xml"))
    first = join(found)
    warehouse = Warehouse(tmp_path / "data", lock_timeout=5)
    with warehouse.write() as writer:
        writer.upsert(NEWS, first.rows)
        writer.append(NEWS_REVISIONS, first.revisions)
    later = first.rows.to_pylist()
    moved = next(r for r in later if r["guid"] == "infoshos-en-21356")
    old = dict(moved)
    moved["published_at"] = dt.datetime(2019, 12, 9, 12, 5, tzinfo=UTC)
    with warehouse.write() as writer:
        assert writer.delete(NEWS, pa.Table.from_pylist([old], schema=NEWS.arrow_schema)) == 1
        result = writer.upsert(NEWS, pa.Table.from_pylist(later, schema=NEWS.arrow_schema))
    stored = warehouse.read(NEWS)
    assert stored.num_rows == 11 and (result.inserted, result.updated) == (1, 0)
    assert pc.sum(pc.equal(stored["item_id"], moved["item_id"])).as_py() == 1
    left = warehouse.read(NEWS, where="year(published_at) = ? AND month(published_at) = ?",
                          parameters=[old["published_at"].year, old["published_at"].month])
    assert moved["item_id"] not in left["item_id"].to_pylist()


def test_known_news_reads_the_run_items_the_newest_waiting_and_their_url_twins(tmp_path):
    from sco_etl.warehouse.news import known_news
    from sco_etl.warehouse.reports import news_per_source

    stored = join(candidates(fixture("tricky_items_en.xml"))).rows
    warehouse = Warehouse(tmp_path / "data", lock_timeout=5)
    with warehouse.write() as writer:
        writer.upsert(NEWS, stored)
    rows = {r["guid"] or r["link"]: r for r in stored.to_pylist()}
    mine = pa.Table.from_pylist([rows["/en/?idn=21195"], rows["infoshos-en-21358"]])
    newest = sorted((r for r in stored.to_pylist() if r["item_id"] not in mine["item_id"]
                     .to_pylist()), key=lambda r: (-r["published_at"].timestamp(),
                                                   r["item_id"]))[:3]
    known, urls = known_news(warehouse, mine.select(["item_id", "url"]), [SOURCE], 3, waiting=3)
    assert known["item_id"].to_pylist()[2:] == [r["item_id"] for r in newest]
    assert sorted(known["item_id"].to_pylist()[:2]) == sorted(mine["item_id"].to_pylist())
    twins = {r["item_id"] for r in stored.to_pylist()
             if r["url"] in set(known["url"].to_pylist())}
    assert set(urls["item_id"].to_pylist()) == twins and len(twins) == 6
    alone, _ = known_news(warehouse, mine.select(["item_id", "url"]), [SOURCE], 3, waiting=0)
    assert alone.num_rows == 2
    other, _ = known_news(warehouse, mine.select(["item_id", "url"]), ["other"], 3, waiting=3)
    assert other.num_rows == 2  # no other source's items wait here
    assert [(r["source"], r["items"], r["latest_published_at"], r["article_errors"])
            for r in news_per_source(warehouse)] == [
        (SOURCE, 11, max(r["published_at"] for r in stored.to_pylist()), 0)]


def pages(*rows: tuple[str, str | None, str | None]) -> pa.Table:
    """Article pages as the client gives them: (link, body, error)."""
    return pa.Table.from_pylist([{"link": link, "body": body, "error": error}
                                 for link, body, error in rows], schema=ARTICLE_RESULT)


ATOM = fixture("atom_en.xml")
INTERVIEW = "tag:infoshos.ru,2011-05-23:/en/idn/9472"


def test_a_longer_article_text_replaces_the_feeds_a_shorter_one_does_not():
    found = candidates(ATOM)
    first = join(found)
    feed_body = {r["guid"]: r for r in first.rows.to_pylist()}[INTERVIEW]["body"]
    link = "http://www.infoshos.ru/en/?idn=9472"
    longer = join(found, first.rows, pages((link, feed_body + "\n\nOne more paragraph.", None)))
    row = {r["guid"]: r for r in longer.rows.to_pylist()}[INTERVIEW]
    assert (row["body_from"], row["article_attempts"]) == ("article", 1)
    assert row["body"].endswith("One more paragraph.")
    shorter = join(found, first.rows, pages((link, "A short teaser.", None)))
    row = {r["guid"]: r for r in shorter.rows.to_pylist()}[INTERVIEW]
    assert (row["body"], row["body_from"], row["article_attempts"]) == (feed_body, "feed", 1)
    # The page was read, but no text changed: only the attempt is counted.
    assert shorter.counts[SOURCE] == {"retried": 1, "unchanged": 2}
    assert shorter.failures == {}


def test_a_failed_attempt_alone_is_a_retry_not_an_update():
    found = candidates(ATOM)
    first = join(found)
    link = "http://www.infoshos.ru/en/?idn=21460"
    failed = join(found, first.rows, pages((link, None, "HTTP 404")))
    assert failed.counts[SOURCE] == {"retried": 1, "unchanged": 2}
    assert failed.failures == {SOURCE: [(link, "HTTP 404")]}
    assert failed.changed.to_pylist() == []  # nothing to match mentions in again
    again = join(found, failed.rows, pages((link, None, "HTTP 404")), run="r3")
    assert again.counts[SOURCE] == {"retried": 1, "unchanged": 2}


def test_the_same_text_for_different_urls_is_boilerplate_within_a_run_and_stored():
    found = candidates(fixture("rss_en_2019-12-17.xml"))
    first = join(found)
    links = sorted(first.rows["link"].to_pylist())[:3]
    footer = "The website has been created with the financial assistance of a foundation."
    within = join(found, first.rows, pages((links[0], footer, None), (links[1], footer, None)))
    assert all(r["body"] is None for r in within.rows.to_pylist())
    assert {link for link, _ in within.failures[SOURCE]} == set(links[:2])
    # One page a run: the first looks like an article; the second, for another URL, gives
    # the same text, and the stored body is cleared with it.
    one = join(found, first.rows, pages((links[0], footer, None)))
    stored = {r["link"]: r for r in one.rows.to_pylist()}
    assert stored[links[0]]["body"] == footer
    two = join(found, one.rows, pages((links[1], footer, None)),
               same_bodies=one.rows.filter(pc.equal(one.rows["link"], links[0])))
    rows = {r["link"]: r for r in two.rows.to_pylist()}
    assert rows[links[0]]["body"] is None and rows[links[1]]["body"] is None
    assert "boilerplate" in rows[links[0]]["article_error"]
    assert two.counts[SOURCE]["updated"] == 1  # the cleared one; the other only retried
    # The same story reached through two links (one canonical url) is no boilerplate.
    same = join(found, first.rows, pages((links[2], footer, None),
                                         (links[2].replace("http://www.", "https://"), footer,
                                          None)))
    assert {r["link"]: r for r in same.rows.to_pylist()}[links[2]]["body"] == footer
