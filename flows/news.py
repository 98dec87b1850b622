"""The `ingest_news` flow: SCO news feeds, listing pages and their articles into the warehouse."""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from sco_etl.flows.config import resolve, resolve_news_feeds
from sco_etl.schemas.clock import moscow_now
from sco_etl.tasks.http import deal
from sco_etl.tasks.news import prefect_tasks as news
from sco_etl.tasks.news.articles import combine_pages
from sco_etl.tasks.news.extract import failed_sources, summary_rows
from sco_etl.tasks.news.load import record_failure
from sco_etl.tasks.news.settings import (
    ARTICLE_WORKERS,
    ARTICLES_PER_RUN,
    FEED_WORKERS,
    MAX_ARTICLE_ATTEMPTS,
)
from sco_etl.tasks.news.summary import source_warnings, sources_failed, summarise_news
from sco_etl.tasks.run import Run


def news_run_name() -> str:
    """`news-2026-11-29T14:30` (Moscow time, like the headlines)."""
    return f"news-{moscow_now():%Y-%m-%dT%H:%M}"


@flow(name="ingest-news", flow_run_name=news_run_name, log_prints=True,
      task_runner=ThreadPoolTaskRunner(max_workers=ARTICLE_WORKERS))
def ingest_news(
    feeds: list[str] | None = None,
    fetch_articles: bool = True,
    data_dir: str | None = None,
    feed_workers: int = FEED_WORKERS,
    article_workers: int = ARTICLE_WORKERS,
    articles_per_run: int = ARTICLES_PER_RUN,
    max_article_attempts: int = MAX_ARTICLE_ATTEMPTS,
) -> dict:
    """Ingest news feeds and listing pages (and, for new items, their article pages)."""
    config = resolve(data_dir)
    sources = resolve_news_feeds(feeds)
    logger = get_run_logger()
    run = Run(str(flow_run.get_id() or "local"), "ingest-news",
                  {"feeds": sources, "fetch_articles": fetch_articles})
    warehouse = config.warehouse()
    requests = 0
    try:
        states = news.read_feed_state(warehouse)
        fetched = news.fetch_sources(config.http, sources, states, feed_workers)
        requests += fetched.requests_made
        reusable = news.read_reusable(warehouse, sources, fetch_articles)
        parsed = news.parse_sources(fetched.fetches, states, reusable)
        limit = articles_per_run if fetch_articles else 0
        known = news.load_known(warehouse, parsed.candidates, sources, max_article_attempts,
                                limit)
        links = news.plan_articles(parsed.candidates, known, max_article_attempts, limit)
        shares = deal(links, article_workers)
        fetches = [news.fetch_articles.submit(config.http, share, len(shares))
                   for share in shares]
        wait(fetches)
        pages = combine_pages([fetch.result() for fetch in fetches])
        requests += pages.requests_made
        batch = news.join_rows(parsed.candidates, known, pages.pages, run)
        validated, broken = news.validate_news(batch)
        failures = failed_sources(parsed, broken)
        written = news.write_news(warehouse, validated, batch, parsed.states, run, failures,
                                  requests)
        rows = summary_rows(parsed, batch, validated, failures)
        news.publish_summary(rows, written, pages.pages)
    except Exception as error:
        record_failure(warehouse, run, error, requests)
        raise
    # Derived from what was just committed; a failure here leaves the data written.
    news.refresh_search_index(warehouse, changed=bool(written.inserted or written.updated))
    for warning in source_warnings(parsed):
        logger.warning(warning)
    logger.info(written.message)
    if failures:
        raise sources_failed(failures, sources, written)
    return asdict(summarise_news(rows, written, len(links), requests))
