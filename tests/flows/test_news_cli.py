"""`sco-etl news`, `status` and `query` over news, and where the news sources come from."""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from sco_etl.flows.config import resolve_news_feeds
from sco_etl.schemas.errors import ConfigError
from sco_etl.tasks.news.settings import DEFAULT_NEWS_FEEDS
from tests.fakes.news_site import HTML, NewsSite, fixture

runner = CliRunner()


@pytest.fixture
def site(httpserver) -> NewsSite:
    return NewsSite(httpserver)


@pytest.fixture
def env(site, tmp_path, prefect_harness) -> dict:
    rss = site.serve("/rss.xml", fixture("rss_en_2019-12-17.xml"))
    listing = site.serve("/en/", fixture("news_list_en.html"), HTML)
    return {"SCO_ETL_DATA_DIR": str(tmp_path / "data"), "SCO_ETL_NEWS_FEEDS": f"{rss},{listing}",
            "SCO_ETL_HTTP_BACKOFF": "0.01", "SCO_ETL_REQUEST_INTERVAL": "0",
            "COLUMNS": "250"}


def test_news_from_environment_then_query_and_status(env):
    result = runner.invoke(app, ["news", "--no-articles"], env=env)
    assert result.exit_code == 0, result.output
    assert "15 new, 0 updated, 0 unchanged, 0 rejected" in result.output
    assert "news: 32 new, 0 updated, 0 rejected, 0 article pages" in result.output
    feed = runner.invoke(app, ["query", "SELECT published_msk, title FROM news_feed LIMIT 3",
                               "--format", "csv"], env=env)
    assert list(csv.reader(io.StringIO(feed.output))) == [
        ["published_msk", "title"],
        ["13.01.2020 14:10", "SCO Secretary-General meets with Turkmenistans Ambassador to China"],
        ["13.01.2020 13:58", "The SCO Secretary-General met with the Ambassador of the Islamic "
                             "Republic of Iran to China"],
        ["17.12.2019 11:28", "Chinas Foreign Minister Calls For Free Trade Deal With EU"],
    ]
    status = runner.invoke(app, ["status"], env=env)
    assert status.exit_code == 0, status.output
    lines = [line for line in status.output.splitlines() if "/rss.xml" in line]
    assert any("15" in line and "17.12.2019 11:28" in line and "ok" in line for line in lines)


def test_news_with_a_failing_feed_option_exits_1_and_says_why(env):
    missing = env["SCO_ETL_NEWS_FEEDS"].split(",")[0].replace("/rss.xml", "/gone.xml")
    result = runner.invoke(app, ["news", "--feed", missing, "--no-articles"], env=env)
    assert result.exit_code == 1
    assert "1 of 1 news sources failed" in result.output and "HTTP 404" in result.output


def test_feeds_option_wins_over_environment_which_wins_over_defaults(monkeypatch):
    monkeypatch.setenv("SCO_ETL_NEWS_FEEDS", " http://a.org/rss , http://b.org/, http://a.org/rss")
    assert resolve_news_feeds(["https://c.org/feed"]) == ["https://c.org/feed"]
    assert resolve_news_feeds() == ["http://a.org/rss", "http://b.org/"]
    monkeypatch.delenv("SCO_ETL_NEWS_FEEDS")
    assert resolve_news_feeds() == list(DEFAULT_NEWS_FEEDS)
    with pytest.raises(ConfigError, match="http"):
        resolve_news_feeds(["ftp://a.org/feed"])


def test_failing_sources_get_one_line_each_and_the_healthy_ones_their_results(env, site):
    """Issue 18: several failing sources gave one paragraph with each URL twice and raw
    urllib3 text, and the healthy sources' results were not shown."""
    rss = env["SCO_ETL_NEWS_FEEDS"].split(",")[0]
    missing = rss.replace("/rss.xml", "/gone.xml")
    refused = "http://127.0.0.1:9/feed.xml"  # the discard port: connection refused
    text = site.serve("/text", b"Service temporarily unavailable", "text/plain")
    result = runner.invoke(app, ["news", "--no-articles", "--feed", rss, "--feed", missing,
                                 "--feed", refused, "--feed", text], env=env)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert f"{rss} (rss, 200, " in lines[0] and "15 new, 0 updated, 0 unchanged" in lines[0]
    assert lines[1:4] == [f"✗ {missing} — HTTP 404", f"✗ {refused} — connection refused",
                          f"✗ {text} — not a feed (a text/plain document)"]
    assert lines[4].startswith("news: 15 new, 0 updated, 0 rejected, 0 article pages")
    assert lines[5].startswith("error: 3 of 4 news sources failed; what the others gave is "
                               "written.")
    for url in (rss, missing, refused, text):
        assert result.output.count(url) == 1
    assert "urllib3" not in result.output and "Error" not in result.output
    # `status` lists every source, the one that always failed too, with its cause.
    status = runner.invoke(app, ["status"], env=env)
    assert status.exit_code == 0, status.output
    (refused_line,) = [line for line in status.output.splitlines()
                       if line.startswith(f"│ {refused}")]
    assert "failed" in refused_line and "connection refused" in refused_line
    (fresh,) = [line for line in status.output.splitlines()
                if line.startswith(f"freshness news {refused}")]
    assert "no items stored — LATE since" in fresh
    (old,) = [line for line in status.output.splitlines()
              if line.startswith(f"freshness news {rss}")]
    assert "latest item 2019-12-17 11:28 MSK — LATE since 2019-12-19 11:28 MSK" in old
