"""`sco-etl news search`: full-text search over the news, with English and Russian stemming."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tasks.news.search import snippet
from tests.fakes.news_site import NewsSite
from warehouse import Warehouse
from warehouse.search import index_path, search

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
    assert len([line for line in lines if line.startswith(("2", "0", "1"))]) == 1


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
