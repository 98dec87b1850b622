"""`sco-etl news search`: full-text search over the news, with English and Russian stemming."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.search import index_path, search, snippet
from tests.fakes.news_site import NewsSite, fixture

runner = CliRunner()


@pytest.fixture
def env(httpserver, tmp_path, prefect_harness) -> dict:
    feeds = NewsSite(httpserver).serve_feeds(russian=True)
    environment = {"SCO_ETL_DATA_DIR": str(tmp_path / "data"),
                   "SCO_ETL_NEWS_FEEDS": ",".join(feeds), "SCO_ETL_REQUEST_INTERVAL": "0",
                   "COLUMNS": "200"}
    result = runner.invoke(app, ["news"], env=environment)
    assert result.exit_code == 0, result.output
    return environment


def titles(env: dict, query: str, **options) -> list[str]:
    hits = search(Warehouse(env["SCO_ETL_DATA_DIR"]), query, **options)
    return hits.column("title").to_pylist()


def test_news_run_builds_the_index_and_search_finds_the_interview_by_its_body(env):
    assert index_path(Warehouse(env["SCO_ETL_DATA_DIR"])).exists()
    result = runner.invoke(app, ["news", "search", "aspirants"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("23.05.2011 10:00  ") and "/atom.xml" in lines[0]
    assert lines[1].strip() == "Leonid Moiseev: World vests great hopes in SCO"
    assert "There are aspirants for the status of an observer" in lines[2]
    assert lines[3].strip().startswith("http://")  # the link as published, not the https url
    assert len([line for line in lines if line.startswith(("2", "0", "1"))]) == 1


def test_the_feeds_own_text_is_found_before_any_article_page(httpserver, tmp_path,
                                                            prefect_harness):
    """Issue 18: the README's `news search "aspirants"` found nothing until the article page
    was fetched, though the Atom feed carries the text."""
    feeds = NewsSite(httpserver).serve_feeds()
    env = {"SCO_ETL_DATA_DIR": str(tmp_path / "data"), "SCO_ETL_NEWS_FEEDS": ",".join(feeds),
           "SCO_ETL_REQUEST_INTERVAL": "0", "COLUMNS": "200"}
    assert runner.invoke(app, ["news", "--no-articles"], env=env).exit_code == 0
    result = runner.invoke(app, ["news", "search", "aspirants"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].strip() == (
        "Leonid Moiseev: World vests great hopes in SCO")


def test_english_and_russian_stemming(env):
    # "attracting" → attract (the body says "attracts"); "Китай" → кита (the title: "в Китае")
    assert titles(env, "attracting") == ["Leonid Moiseev: World vests great hopes in SCO"]
    assert titles(env, "Китай") == [
        "Генеральный секретарь ШОС встретился с послом Туркменистана в Китае"]
    assert titles(env, "планировать") == []  # the Russian stem of the verb is not "планир"
    assert titles(env, "планирует") == ["Узбекистан планирует председательствовать в ШОС "
                                        "в 2022 году"]


def test_filters_since_source_and_limit(env):
    everything = titles(env, "SCO", limit=100)
    assert len(everything) > 5
    assert titles(env, "SCO", limit=2) == everything[:2]
    since = set(titles(env, "SCO", since=dt.date(2020, 1, 1), limit=100))
    assert since == {"SCO Secretary-General meets with Turkmenistans Ambassador to China",
                     "The SCO Secretary-General met with the Ambassador of the Islamic "
                     "Republic of Iran to China"}
    atom = env["SCO_ETL_NEWS_FEEDS"].split(",")[1]
    assert set(titles(env, "SCO", source=atom, limit=100)) == {
        "Leonid Moiseev: World vests great hopes in SCO", *since}


def test_a_stale_index_is_rebuilt_from_the_lake(env):
    warehouse = Warehouse(env["SCO_ETL_DATA_DIR"])
    index_path(warehouse).unlink()
    assert titles(env, "aspirants") == ["Leonid Moiseev: World vests great hopes in SCO"]
    assert index_path(warehouse).exists()


def test_no_hit_and_snippets():
    assert snippet("hopes", None, "", "World vests great hopes in SCO") == (
        "World vests great hopes in SCO")
    text = "word " * 60 + "the interviews went on " + "word " * 60
    cut = snippet("interview", text)
    assert cut.startswith("…") and cut.endswith("…") and "the interviews went on" in cut
    assert snippet("nothing", "short text") == "short text"


def news_row(n: int, title: str, body: str | None = None, language: str = "en",
             updated: int = 0, duplicate_of: str | None = None) -> dict:
    when = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    url = f"https://www.example.org/news/{n}"
    return {
        "item_id": f"{n:032x}", "source": "https://www.example.org/rss", "guid": str(n),
        "url": url, "link": url, "title": title, "summary": title, "summary_html": None,
        "body": body, "author": None, "language": language,
        "published_at": when - dt.timedelta(hours=n), "published_at_source": "feed",
        "duplicate_of": duplicate_of, "article_attempts": 0, "article_error": None,
        "content_hash": f"{n:064x}", "first_seen_at": when,
        "updated_at": when + dt.timedelta(minutes=updated), "run_id": "r",
    }


def everything(warehouse: Warehouse, query: str) -> list[tuple]:
    hits = search(warehouse, query, limit=1000)
    return sorted(zip(hits["item_id"].to_pylist(), hits["score"].to_pylist(), strict=True))


QUERIES = ["summit", "trade", "energy cooperation", "Казахстан", "сотрудничество", "pipeline",
           "railway", "aspirants"]


def test_an_updated_index_scores_exactly_as_one_built_whole(tmp_path):
    from sco_etl.schemas import NEWS
    from sco_etl.warehouse.search import rebuild_index, refresh_index

    words = ["summit", "trade", "energy", "cooperation", "pipeline", "railway", "forum"]
    russian = ["Казахстан", "сотрудничество", "саммит", "торговля"]
    rows = [news_row(n, " ".join(words[(n + k) % 7] for k in range(3)),
                     " ".join(words[(n * k) % 7] for k in range(1, 9)))
            for n in range(40)]
    rows += [news_row(40 + n, " ".join(russian[(n + k) % 4] for k in range(3)), language="ru")
             for n in range(12)]
    warehouse = Warehouse(tmp_path / "data", lock_timeout=5)
    warehouse.transaction(lambda w: w.upsert(NEWS, pa.Table.from_pylist(rows, NEWS.arrow_schema)))
    assert rebuild_index(warehouse) == 52
    changes = [
        news_row(3, "aspirants at the summit", "new body text", updated=1),  # edited
        news_row(4, "trade", language="ru", updated=1),                     # now Russian
        news_row(5, rows[5]["title"], rows[5]["body"], updated=1,
                 duplicate_of=rows[6]["item_id"]),                           # a duplicate now
        news_row(100, "railway pipeline summit", "aspirants", updated=1),    # new
        news_row(41, "Казахстан и сотрудничество", language="ru", updated=1),
    ]
    warehouse.transaction(lambda w: w.upsert(NEWS, pa.Table.from_pylist(changes,
                                                                        NEWS.arrow_schema)))
    assert refresh_index(warehouse) == (52, 5)
    updated = {query: everything(warehouse, query) for query in QUERIES}
    assert [item for item, _ in updated["aspirants"]] == [f"{3:032x}", f"{100:032x}"]
    assert f"{5:032x}" not in {item for hits in updated.values() for item, _ in hits}
    index_path(warehouse).unlink()
    assert rebuild_index(warehouse) == 52
    assert {query: everything(warehouse, query) for query in QUERIES} == updated


def test_a_news_run_updates_the_index_and_finds_the_new_text_not_the_old(
        httpserver, tmp_path, prefect_harness, monkeypatch):
    from sco_etl.flows.news import ingest_news
    from sco_etl.warehouse import search as search_module

    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    builds = []
    whole = search_module.rebuild_index
    monkeypatch.setattr(search_module, "rebuild_index",
                        lambda warehouse: builds.append(1) or whole(warehouse))
    site = NewsSite(httpserver)
    snapshot = fixture("rss_en_2019-12-17.xml")
    feed = site.serve("/rss.xml", snapshot)
    data = str(tmp_path / "data")
    ingest_news(feeds=[feed], fetch_articles=False, data_dir=data)
    warehouse = Warehouse(data)
    assert [t for t in search(warehouse, "Indra")["title"].to_pylist()] == [
        "Russia, India Start Practical Part of Indra-2019 Joint Exercise - Russian Pacific Fleet"]
    site.serve("/rss.xml", snapshot.replace(b"Indra-2019", b"Vostok-2019"))
    result = ingest_news(feeds=[feed], fetch_articles=False, data_dir=data)
    assert (result["updated"], result["unchanged"]) == (1, 14)
    assert search(warehouse, "Indra").num_rows == 0
    assert search(warehouse, "Vostok")["title"].to_pylist() == [
        "Russia, India Start Practical Part of Vostok-2019 Joint Exercise - Russian Pacific "
        "Fleet"]
    assert builds == [1]  # built once, then updated
