"""`sco-etl news` (ingest) and `sco-etl news search`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from sco_etl.flows.cli import run_log
from sco_etl.flows.cli.common import (
    RUN,
    Commands,
    Format,
    FormatOption,
    _fail,
    console,
    date_option,
    errors,
    handled,
)
from sco_etl.flows.cli.server import use_background_server

news_app = Commands(help="Ingest SCO news, or search it.", invoke_without_command=True)


@news_app.callback()
@handled
def news(
    ctx: typer.Context,
    feed: Annotated[list[str] | None, typer.Option(
        "--feed", metavar="URL",
        help="a feed or listing URL (repeatable); default SCO_ETL_NEWS_FEEDS, else InfoSHOS",
    )] = None,
    articles: Annotated[bool, typer.Option(
        "--articles/--no-articles", help="fetch the article pages of new items")] = True,
) -> None:
    """Ingest news: RSS/Atom feeds and headline listing pages, with their articles."""
    if ctx.invoked_subcommand is not None:
        return
    from sco_etl.flows.cli import inputs

    inputs.feed_urls(feed)
    use_background_server("sco_etl.flows.news")
    from sco_etl.flows.news import ingest_news
    from sco_etl.tasks.news.summary import SourcesFailed

    state = ingest_news(feeds=feed or None, fetch_articles=articles, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, SourcesFailed):
        print_summary(result.summary)
        failed = [row for row in result.summary["sources"] if row["status"] == "failed"]
        # the retries and their raw causes are in the run's log
        logged = run_log.record(result, RUN.log) if RUN.log is not None else None
        where = f"Full log: {logged}" if logged else "No log file was written"
        errors.print(f"[bold red]error:[/] {len(failed)} of {len(result.summary['sources'])} "
                     "news sources failed; what the others gave is written. Check the network "
                     "and the URLs (--feed or SCO_ETL_NEWS_FEEDS), or run again later: the "
                     f"next run retries them. {escape(where)} (--verbose shows it on the "
                     "terminal).", soft_wrap=True, highlight=False)
        raise typer.Exit(1)
    if isinstance(result, BaseException):
        _fail(result)
    print_summary(result)


def print_summary(summary: dict) -> None:
    """One line per source (a failed one: its URL and the cause in words), then the totals."""
    from sco_etl.tasks.news.summary import NewsSummary, articles_line

    for source in summary["sources"]:
        url = escape(source["source"])
        if source["status"] == "failed":
            console.print(f"[red]✗ {url}[/] — {escape(source['message'])}", soft_wrap=True)
            continue
        colour = "green" if source["status"] == "ok" else "yellow"
        failed = (f", {source['articles_failed']} article pages failed"
                  if source["articles_failed"] else "")
        console.print(
            f"[{colour}]{url}[/] ({source['kind'] or '?'}, {source['fetch']}): "
            f"{source['new']} new, {source['updated']} updated, {source['unchanged']} "
            f"unchanged, {source['rejected']} rejected{failed}"
            + (f" — {escape(source['message'])}" if source["message"] else ""),
            soft_wrap=True)
    console.print(f"news: {summary['inserted']} new, {summary['updated']} updated, "
                  f"{summary['rejected']} rejected, "
                  f"{escape(articles_line(NewsSummary(**summary)))} "
                  f"({summary['requests']} requests)", soft_wrap=True)


@news_app.command()
def search(
    query: Annotated[str, typer.Argument(help="words to look for (stemmed where the item's "
                                              "language is English or Russian)")],
    since: Annotated[str | None, date_option(
        "only items published on or after this day (Moscow)")] = None,
    source: Annotated[str | None, typer.Option(
        metavar="URL", help="only this feed or listing URL")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="hits to print")] = 10,
    format: FormatOption = Format.table,
) -> None:
    """Full-text search over titles, summaries and article text, best hits first."""
    from sco_etl.flows.cli import inputs, render
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.schemas.clock import MOSCOW
    from sco_etl.warehouse.search import search as search_news
    from sco_etl.warehouse.search import snippet

    words = inputs.search_words(query)
    day = inputs.day(since, "--since")
    warehouse = resolve_warehouse()
    warehouse.require()  # the search index is made from the warehouse, never without one
    hits = [{"published_msk": f"{hit['published_at'].astimezone(MOSCOW):%d.%m.%Y %H:%M}",
             "source": hit["source"], "title": hit["title"], "link": hit["link"],
             "score": hit["score"],
             "snippet": snippet(words, hit["body"], hit["summary"], hit["title"])}
            for hit in search_news(warehouse, words, day, source, limit).to_pylist()]
    if format != Format.table:
        import pyarrow as pa

        rows = [{**hit, "score": round(hit["score"], 4)} for hit in hits]
        render.print_rows(console, pa.Table.from_pylist(rows, schema=pa.schema([
            ("published_msk", pa.string()), ("source", pa.string()), ("title", pa.string()),
            ("link", pa.string()), ("score", pa.float64()), ("snippet", pa.string())])), format)
        return
    if not hits:
        console.print(f"no news matches {query!r}")
    for hit in hits:
        # Feed text is printed as text: rich would read [brackets] in it as markup.
        console.print(f"[bold]{hit['published_msk']}[/]  {escape(hit['source'])}  "
                      f"[dim]score {hit['score']:.2f}[/]")
        console.print(f"  [bold]{escape(hit['title'])}[/]")
        console.print("  " + escape(hit["snippet"]), soft_wrap=True)
        console.print(f"  {escape(hit['link'])}", style="blue")
