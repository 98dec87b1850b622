"""Prefect task wrappers of the news work: names, no caching of live data.

Big data travels between tasks as Arrow tables, never as lists of dicts, which Prefect would
walk item by item. Every input is a plain value (settings, URLs, Arrow tables), so a task can
run on a Dask worker as well as in the flow's process. Retries and timeouts (each client's
budget) live in the HTTP seam.
"""

from __future__ import annotations

import pyarrow as pa
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas.news import FEED_STATE
from sco_etl.tasks.news import articles, extract, fetch, load, search
from sco_etl.warehouse import Warehouse


@task(name="read-feed-state", cache_policy=NO_CACHE)
def read_feed_state(warehouse: Warehouse) -> pa.Table:
    """The stored validators and last status of every source."""
    # A news run writes: opening as a writer now lets its reads share the writer's instance.
    warehouse.migrate()
    return warehouse.read(FEED_STATE)


read_reusable = task(name="read-reusable-news", cache_policy=NO_CACHE)(extract.read_reusable)
# Timeouts: each network task's client gives up after its budget (`SOURCES_TIMEOUT`,
# `ARTICLES_TIMEOUT`), enforced in the HTTP seam between socket reads.
fetch_sources = task(name="fetch-news-sources", cache_policy=NO_CACHE)(fetch.fetch_sources)
parse_sources = task(name="parse-news-sources", cache_policy=NO_CACHE)(extract.parse_sources)
load_known = task(name="load-known-news", cache_policy=NO_CACHE)(extract.load_known)
plan_articles = task(name="plan-article-fetches", cache_policy=NO_CACHE)(extract.plan_articles)
fetch_articles = task(name="fetch-articles", cache_policy=NO_CACHE)(articles.fetch_articles)
join_rows = task(name="join-news-rows", cache_policy=NO_CACHE)(extract.join_rows)
validate_news = task(name="validate-news", cache_policy=NO_CACHE)(extract.validate_news)
write_news = task(name="write-news", cache_policy=NO_CACHE)(load.write_news)
refresh_search_index = task(name="refresh-search-index",
                            cache_policy=NO_CACHE)(search.refresh_index)


@task(name="publish-news-summary", cache_policy=NO_CACHE)
def publish_summary(rows: list[dict], written: load.NewsWritten, pages: pa.Table) -> None:
    """A table artifact: per source, new / updated / unchanged / rejected items and any error."""
    failed = pages.num_rows - pages["error"].null_count
    fetched = pages.num_rows - failed
    create_table_artifact(
        key="news-load",
        table=[*rows, {
            "source": "all sources", "kind": "", "fetch": "",
            "new": written.inserted, "updated": written.updated,
            "unchanged": written.unchanged, "rejected": written.rejected,
            "status": written.status,
            "message": f"{fetched} article pages read, {failed} failed; "
                       f"{written.revisions} revisions kept",
        }],
        description="News load: items per source",
    )
