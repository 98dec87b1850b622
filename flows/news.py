"""The `ingest_news` flow: SCO news feeds, listing pages and their articles into the warehouse."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.config import resolve, resolve_news_feeds
from schemas.checks import MOSCOW
from schemas.errors import SourceError
from tasks.ledger import RunInfo
from tasks.news import extract, prefect_tasks
from tasks.news.fetch import article_client, feed_client
from tasks.news.settings import (
    ARTICLE_WORKERS,
    ARTICLES_PER_RUN,
    FEED_WORKERS,
    MAX_ARTICLE_ATTEMPTS,
)


def news_run_name() -> str:
    """`news-2026-11-29T14:30` (Moscow time, like the headlines)."""
    return f"news-{dt.datetime.now(MOSCOW):%Y-%m-%dT%H:%M}"


@flow(name="ingest-news", flow_run_name=news_run_name, log_prints=True)
def ingest_news(
    feeds: list[str] | None = None,
    fetch_articles: bool = True,
    data_dir: str | None = None,
) -> dict:
    """Ingest news feeds and listing pages (and, for new items, their article pages)."""
    config = resolve(data_dir)
    sources = resolve_news_feeds(feeds)
    logger = get_run_logger()
    run = RunInfo(str(flow_run.get_id() or "local"), "ingest-news",
                  {"feeds": sources, "fetch_articles": fetch_articles})
    warehouse = config.warehouse()
    feeds_http, pages_http = feed_client(config.http), article_client(config.http)
    try:
        states = prefect_tasks.read_feed_state(warehouse)
        reusable = prefect_tasks.read_reusable(warehouse, sources, fetch_articles)
        fetches = prefect_tasks.fetch_sources(feeds_http, sources, states, FEED_WORKERS)
        parsed = prefect_tasks.parse_sources(fetches, states, reusable)
        limit = ARTICLES_PER_RUN if fetch_articles else 0
        known = prefect_tasks.load_known(warehouse, parsed.candidates, sources,
                                      MAX_ARTICLE_ATTEMPTS, limit)
        links = prefect_tasks.plan_articles(parsed.candidates, known, MAX_ARTICLE_ATTEMPTS, limit)
        articles = prefect_tasks.fetch_articles(pages_http, links, ARTICLE_WORKERS)
        batch = prefect_tasks.join_rows(parsed.candidates, known, articles, run)
        validated, broken = prefect_tasks.validate_news(batch)
        failures = extract.failed_sources(parsed, broken)
        requests = feeds_http.requests_made + pages_http.requests_made
        written = prefect_tasks.write_news(warehouse, validated, batch, parsed.states, run,
                                        failures, requests)
        rows = extract.summary_rows(parsed, batch, validated, failures)
        prefect_tasks.publish_summary(rows, written, articles)
    except Exception as error:
        extract.record_failure(warehouse, run, error,
                            feeds_http.requests_made + pages_http.requests_made)
        raise
    # Derived from what was just committed; a failure here leaves the data written.
    prefect_tasks.refresh_search_index(warehouse, changed=bool(written.inserted or written.updated))
    for report in parsed.reports:
        for warning in report.warnings:
            logger.warning("%s: %s", report.source, warning)
    logger.info(written.message)
    if failures:
        # The run ends Failed so that alerts fire; what the other sources gave is committed,
        # and running again is safe (nothing is written twice).
        others = (f"The others were written ({written.inserted} new items, "
                  f"{written.updated} updated)."
                  if len(failures) < len(sources) else "Nothing else was written.")
        raise SourceError(
            f"{len(failures)} of {len(sources)} news sources failed — "
            + "; ".join(f"{source}: {why}" for source, why in failures.items())
            + f". {others} Check the network and the URL (`sco-etl news --feed URL` tries one "
            "source), or wait: the next run retries it."
        )
    return {"sources": rows, "inserted": written.inserted, "updated": written.updated,
            "unchanged": written.unchanged, "rejected": written.rejected,
            "revisions": written.revisions, "partitions": written.partitions,
            "articles": len(links), "requests": requests}
