"""A changed document whose items mostly did not change (issue 11): only the new or edited
items are parsed, and the warehouse ends up exactly as a whole read would leave it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from sco_etl.schemas import NEWS, NEWS_ITEM_HASHES, NEWS_MENTIONS, NEWS_REVISIONS
from sco_etl.tasks.news import documents
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.merge import LINEAGE_COLUMNS
from tests.fakes.news_site import HTML, NewsSite, fixture
from tests.fakes.reliability import data_files

SNAPSHOT = fixture("rss_en_2019-12-17.xml")
REBUILT = (SNAPSHOT.replace(b"12:00:00 +0300</lastBuild", b"13:00:00 +0300</lastBuild")
           .replace(b"<title>Chinas Foreign", b"<title>China&#8217;s Foreign", 1)
           .replace(b"    <item>", b"    <item><title>Kazakhstan hosts the SCO summit</title>"
                    b"<link>/en/?idn=30000</link><pubDate>Tue, 17 Dec 2019 12:30:00 +0300"
                    b"</pubDate><guid>infoshos-en-30000</guid></item>\n    <item>", 1))


@pytest.fixture
def site(httpserver) -> NewsSite:
    return NewsSite(httpserver)


@pytest.fixture
def normalised(monkeypatch) -> list[int]:
    """How many items each document read normalises."""
    counts: list[int] = []
    real = documents.normalise_document

    def counting(source, document, raw_hashes=None):
        counts.append(len(document.items))
        return real(source, document, raw_hashes)

    monkeypatch.setattr(documents, "normalise_document", counting)
    return counts


@pytest.fixture(autouse=True)
def quick(monkeypatch, prefect_harness):
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")


def ingest(data: Path, *feeds: str, articles: bool = False) -> dict:
    from sco_etl.flows.news import ingest_news

    return ingest_news(feeds=list(feeds), fetch_articles=articles, data_dir=str(data))


def content(data: Path) -> dict[str, list[dict]]:
    """What the warehouse says about the news, lineage aside."""
    warehouse = Warehouse(data)

    def rows(table, drop=(), key=("item_id",)) -> list[dict]:
        found = warehouse.read(table)
        found = found.drop([c for c in (*LINEAGE_COLUMNS, *drop) if c in found.column_names])
        return sorted(found.to_pylist(), key=lambda r: tuple(str(r[k]) for k in key))

    return {"news": rows(NEWS), "mentions": rows(NEWS_MENTIONS, key=("item_id", "term")),
            "revisions": rows(NEWS_REVISIONS, ("revised_at", "old_run_id"))}


def forget_hashes(data: Path) -> None:
    """A lake written by a release that kept no raw hashes."""
    Warehouse(data).transaction(
        lambda writer: writer.delete(NEWS_ITEM_HASHES, writer.read(NEWS_ITEM_HASHES)))


def test_a_rebuilt_feed_parses_only_its_new_and_edited_items(site, tmp_path, normalised):
    feed = site.serve("/rss.xml", SNAPSHOT)
    data = tmp_path / "data"
    ingest(data, feed)
    site.serve("/rss.xml", REBUILT)
    second = ingest(data, feed)
    assert normalised == [15, 2]
    assert (second["inserted"], second["updated"], second["unchanged"]) == (1, 1, 14)
    (revision,) = Warehouse(data).read(NEWS_REVISIONS).to_pylist()
    assert revision["old_title"] == "Chinas Foreign Minister Calls For Free Trade Deal With EU"
    assert Warehouse(data).read(NEWS_ITEM_HASHES).num_rows == 16
    # The same two documents read whole every time leave the very same warehouse.
    site.serve("/rss.xml", SNAPSHOT)
    whole = tmp_path / "whole"
    ingest(whole, feed)
    forget_hashes(whole)
    site.serve("/rss.xml", REBUILT)
    assert ingest(whole, feed)["unchanged"] == 14
    assert normalised == [15, 2, 15, 16]
    assert content(whole) == content(data)
    assert [r["country"] for r in content(data)["mentions"]
            if r["term"] == "Kazakhstan"] == ["Kazakhstan"]


def test_a_lake_without_hashes_gains_them_and_its_news_stays_untouched(site, tmp_path,
                                                                      normalised):
    feed = site.serve("/rss.xml", SNAPSHOT)
    data = tmp_path / "data"
    ingest(data, feed)
    forget_hashes(data)
    news_files = {k: v for k, v in data_files(Warehouse(data)).items() if "/news/" in k}
    site.serve("/rss.xml", SNAPSHOT.replace(b"12:00:00 +0300</lastBuild",
                                            b"12:30:00 +0300</lastBuild"))
    result = ingest(data, feed)
    assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 0, 15)
    assert {k: v for k, v in data_files(Warehouse(data)).items() if "/news/" in k} == news_files
    assert Warehouse(data).read(NEWS_ITEM_HASHES).num_rows == 15
    before = data_files(Warehouse(data))
    site.serve("/rss.xml", SNAPSHOT.replace(b"12:00:00 +0300</lastBuild",
                                            b"12:45:00 +0300</lastBuild"))
    again = ingest(data, feed)  # run it again: nothing parsed, nothing but feed_state written
    assert normalised == [15, 15, 0] and again["unchanged"] == 15
    changed = {name.split("/")[2] for name, body in data_files(Warehouse(data)).items()
               if before.get(name) != body}
    assert changed == {"feed_state"}


def test_items_still_waiting_for_their_article_are_read_again(site, tmp_path, normalised):
    feed = site.serve("/atom.xml", site.local("atom_en.xml"), "application/atom+xml")
    site.serve("/en/?idn=9472", fixture("article_en_moiseev_interview.html"), HTML)
    data = tmp_path / "data"
    ingest(data, feed, articles=True)  # the interview's page is there, the others' are not
    site.serve("/atom.xml", site.local("atom_en.xml").replace(
        b"<updated>2020-01-13T14:10:00+03:00</updated>\n  <author>",
        b"<updated>2020-01-13T15:10:00+03:00</updated>\n  <author>"), "application/atom+xml")
    second = ingest(data, feed, articles=True)
    assert normalised == [3, 2]  # the interview has its body: nothing more can come to it
    assert (second["updated"], second["unchanged"]) == (2, 1)  # the two tried again
    stored = Warehouse(data).read(NEWS_ITEM_HASHES)
    assert stored.num_rows == 3 and stored["raw_hash"].null_count == 0


def test_a_document_read_whole_drops_the_hashes_of_its_items(site, tmp_path, normalised):
    feed = site.serve("/rss.xml", SNAPSHOT)
    data = tmp_path / "data"
    ingest(data, feed)
    # An edit arrives in a broken document: its rows are written from the loose parse ...
    site.serve("/rss.xml", REBUILT.replace(b"</channel>", b"<oops></channel>"))
    assert ingest(data, feed)["updated"] == 1
    assert Warehouse(data).read(NEWS_ITEM_HASHES).num_rows == 0
    # ... so the original bytes, back in a clean document, are parsed and restore the title.
    site.serve("/rss.xml", SNAPSHOT.replace(b"12:00:00 +0300</lastBuild",
                                            b"12:30:00 +0300</lastBuild"))
    result = ingest(data, feed)
    assert (result["updated"], result["unchanged"]) == (1, 14) and normalised == [15, 16, 15]
    titles = {r["guid"]: r["title"] for r in Warehouse(data).read(NEWS).to_pylist()}
    assert titles["infoshos-en-21391"] == (
        "Chinas Foreign Minister Calls For Free Trade Deal With EU")
    assert Warehouse(data).read(NEWS_ITEM_HASHES).num_rows == 15


def test_a_row_another_writer_changed_is_read_again(site, tmp_path, normalised):
    feed = site.serve("/rss.xml", SNAPSHOT)
    data = tmp_path / "data"
    ingest(data, feed)
    # An older release (or a hand) edits a row and knows nothing of its hash.
    warehouse = Warehouse(data)
    row = next(r for r in warehouse.read(NEWS).to_pylist() if r["guid"] == "infoshos-en-21391")
    row.update(title="Edited by hand", updated_at=row["updated_at"] + dt.timedelta(seconds=1))
    warehouse.transaction(lambda writer: writer.upsert(
        NEWS, pa.Table.from_pylist([row], schema=NEWS.arrow_schema)))
    site.serve("/rss.xml", SNAPSHOT.replace(b"12:00:00 +0300</lastBuild",
                                            b"12:30:00 +0300</lastBuild"))
    result = ingest(data, feed)
    assert normalised == [15, 1] and (result["updated"], result["unchanged"]) == (1, 14)
    titles = {r["guid"]: r["title"] for r in Warehouse(data).read(NEWS).to_pylist()}
    assert titles["infoshos-en-21391"] == (
        "Chinas Foreign Minister Calls For Free Trade Deal With EU")
    hashes = Warehouse(data).read(NEWS_ITEM_HASHES).to_pylist()
    stored = {r["item_id"]: r["updated_at"] for r in Warehouse(data).read(NEWS).to_pylist()}
    assert len(hashes) == 15 and all(h["row_updated_at"] == stored[h["item_id"]]
                                     for h in hashes)
