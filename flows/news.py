"""The `ingest_news` flow: SCO news feeds, listing pages and their articles into the warehouse."""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from sco_etl.flows.config import resolve, resolve_news_feeds
from sco_etl.schemas.clock import moscow_now
from sco_etl.tasks.http import deal
from sco_etl.tasks.news import client
from sco_etl.tasks.news.client import fetch_sources, read_feed_state
from sco_etl.tasks.news.load import record_failure, refresh_search_index, validate_news, write_news
from sco_etl.tasks.news.plan import plan_articles, read_sources
from sco_etl.tasks.news.rows import join_rows
from sco_etl.tasks.news.settings import (
    ARTICLE_WORKERS,
    ARTICLES_PER_RUN,
    FEED_WORKERS,
    MAX_ARTICLE_ATTEMPTS,
)
from sco_etl.tasks.news.summary import (
    failed_sources,
    publish_summary,
    source_warnings,
    sources_failed,
    summarise,
)
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
) -> dict | State:
    """Ingest news feeds and listing pages (and, for new items, their article pages).

    Returns the run's summary (`NewsSummary` as a dict). When sources failed, what the others
    gave is written and the run ends Failed (so that alerts fire), holding a `SourcesFailed`
    error that carries the summary: a plain call raises it; a call with `return_state=True`
    gets it from `state.result(raise_on_failure=False)`.
    """
    config = resolve(data_dir)
    sources = resolve_news_feeds(feeds)
    logger = get_run_logger()
    run = Run(str(flow_run.get_id() or "local"), "ingest-news",
              {"feeds": sources, "fetch_articles": fetch_articles})
    warehouse = config.warehouse()
    try:
        warehouse.migrate()  # the one schema step, where the run starts
        states = read_feed_state(warehouse)
        fetched = fetch_sources(config.http, sources, states, feed_workers, run)
        read = read_sources(fetched, states)
        plan = plan_articles(warehouse, read.candidates, sources, max_article_attempts,
                             articles_per_run if fetch_articles else 0)
        shares = deal(plan.links, article_workers)
        run.planned(len(plan.links))
        pages = [client.fetch_articles.submit(config.http, share, len(shares), run)
                 for share in shares]
        batch = join_rows(warehouse, read.candidates, plan, pages, run)
        validated, broken = validate_news(batch)
        failures = failed_sources(read, broken)
        written = write_news(warehouse, validated, batch, read.states, run, failures)
    except Exception as error:
        record_failure(warehouse, run, error)
        raise
    summary = summarise(read, batch, validated, failures, written, len(plan.links), run)
    publish_summary(summary)
    # Derived from what was just committed; a failure here leaves the data written.
    refresh_search_index(warehouse, changed=bool(written.inserted or written.updated))
    for warning in source_warnings(read):
        logger.warning(warning)
    logger.info(written.message)
    if failures:
        error = sources_failed(summary)
        return Failed(message=str(error), data=error)
    return asdict(summary)

