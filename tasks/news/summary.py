"""What a news run did, told once: per source (fetched, new / updated / unchanged items, the
article pages that failed, why a source failed) and in all, for the flow's result, its
artifact, the loads message and the command line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from sco_etl.schemas.errors import SourceError
from sco_etl.schemas.table import Validated
from sco_etl.tasks.news.load import NewsWritten
from sco_etl.tasks.news.plan import ReadSources
from sco_etl.tasks.news.rows import NewsBatch
from sco_etl.tasks.run import Run


@dataclass
class NewsSummary:
    """The result of `ingest_news` (as a dict). `sources`: per source its kind, fetch, new,
    updated, retried, unchanged and rejected items, article pages failed, status (ok, degraded,
    failed) and message in words; `articles`: pages asked, `articles_failed` those that gave no
    body (the first: `link — cause`); `requests`: HTTP requests, retries included."""

    status: str
    inserted: int
    updated: int
    retried: int
    unchanged: int
    rejected: int
    revisions: int
    sources: list[dict]
    articles: int
    articles_failed: int
    first_article_failure: str | None
    requests: int


class SourcesFailed(SourceError):
    """Some news sources failed; what the others gave was written. Carries the run's summary,
    so that a failed run still tells what it did (a Prefect `Failed` state holds it)."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary

    def __reduce__(self):
        return type(self), (str(self), self.summary)


def summarise(read: ReadSources, batch: NewsBatch, validated: Validated,
              failures: dict[str, str], written: NewsWritten, articles: int,
              run: Run) -> NewsSummary:
    rejected = Counter(str(r.record.get("source")) for r in validated.rejected)
    rows = []
    for report in read.reports:
        counts = batch.counts.get(report.source, Counter())
        broken = report.source in failures
        rows.append({
            "source": report.source, "kind": report.kind or "", "fetch": report.fetch,
            **{name: 0 if broken else counts[name]
               for name in ("new", "updated", "retried", "unchanged")},
            "rejected": rejected[report.source],
            "articles_failed": len(batch.failures.get(report.source, [])),
            "status": "failed" if broken else ("degraded" if report.warnings else "ok"),
            "message": failures.get(report.source) or "; ".join(report.warnings),
        })
    pages_failed = [failure for source in read.reports
                    for failure in batch.failures.get(source.source, [])]
    return NewsSummary(
        status=written.status, inserted=written.inserted, updated=written.updated,
        retried=written.retried, unchanged=sum(row["unchanged"] for row in rows),
        rejected=written.rejected, revisions=written.revisions, sources=rows,
        articles=articles, articles_failed=len(pages_failed),
        first_article_failure=" — ".join(pages_failed[0]) if pages_failed else None,
        requests=run.requests)


def failed_sources(read: ReadSources, broken: dict[str, str]) -> dict[str, str]:
    """Source → why it gave nothing this run, in words."""
    failures = {r.source: r.error for r in read.reports if r.error}
    failures.update(broken)
    return failures


def source_warnings(read: ReadSources) -> list[str]:
    """What a degraded source said (a listing with undated headlines, a feed left unclosed)."""
    return [f"{report.source}: {warning}" for report in read.reports
            for warning in report.warnings]


def articles_line(summary: NewsSummary) -> str:
    """`20 article pages (10 failed; first: <link> — HTTP 404)`."""
    line = f"{summary.articles} article pages"
    if summary.articles_failed:
        line += f" ({summary.articles_failed} failed; first: {summary.first_article_failure})"
    return line


def sources_failed(summary: NewsSummary) -> SourcesFailed:
    """The run's error when sources failed: which and why, what was kept, what to do.

    The run ends Failed so that alerts fire; what the other sources gave is committed, and
    running again is safe (nothing is written twice).
    """
    failed = [row for row in summary.sources if row["status"] == "failed"]
    others = (f"The others were written ({summary.inserted} new items, "
              f"{summary.updated} updated)." if len(failed) < len(summary.sources)
              else "Nothing else was written.")
    return SourcesFailed(
        f"{len(failed)} of {len(summary.sources)} news sources failed: "
        + "; ".join(f"{row['source']} ({row['message']})" for row in failed)
        + f". {others} Check the network and the URL (`sco-etl news --feed URL` tries one "
        "source), or wait: the next run retries it.", asdict(summary))


@task(name="publish-news-summary", cache_policy=NO_CACHE)
def publish_summary(summary: NewsSummary) -> None:
    """A table artifact: per source, new / updated / unchanged / rejected items and any error."""
    create_table_artifact(
        key="news-load",
        table=[*summary.sources, {
            "source": "all sources", "kind": "", "fetch": f"{summary.requests} requests",
            "new": summary.inserted, "updated": summary.updated, "retried": summary.retried,
            "unchanged": summary.unchanged, "rejected": summary.rejected,
            "articles_failed": summary.articles_failed, "status": summary.status,
            "message": f"{articles_line(summary)}; {summary.revisions} revisions kept",
        }],
        description="News load: items per source",
    )
