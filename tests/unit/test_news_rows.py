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


def join(found, stored: pa.Table | None = None, pages: pa.Table = NO_PAGES, run: str = "r1"):
    stored = NEWS.empty() if stored is None else stored
    urls = stored.select(["item_id", "url", "duplicate_of", "first_seen_at"])
    return build_rows(found, stored, urls, pages, Run(run, "ingest-news", {}), NOW)


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
    known = known_news(warehouse, mine.select(["item_id", "url"]), [SOURCE], 3, waiting=3)
    assert known.rows["item_id"].to_pylist()[2:] == [r["item_id"] for r in newest]
    assert sorted(known.rows["item_id"].to_pylist()[:2]) == sorted(mine["item_id"].to_pylist())
    twins = {r["item_id"] for r in stored.to_pylist()
             if r["url"] in set(known.rows["url"].to_pylist())}
    assert set(known.urls["item_id"].to_pylist()) == twins and len(twins) == 6
    alone = known_news(warehouse, mine.select(["item_id", "url"]), [SOURCE], 3, waiting=0)
    assert alone.rows.num_rows == 2
    other = known_news(warehouse, mine.select(["item_id", "url"]), ["other"], 3, waiting=3)
    assert other.rows.num_rows == 2  # no other source's items wait here
    assert [(r["source"], r["items"], r["latest_published_at"], r["article_errors"])
            for r in news_per_source(warehouse)] == [
        (SOURCE, 11, max(r["published_at"] for r in stored.to_pylist()), 0)]
