"""What a news run did: the flow's result, its warnings, and the error a failed source raises."""

from __future__ import annotations

from dataclasses import dataclass

from sco_etl.schemas.errors import SourceError
from sco_etl.tasks.ledger import LoadCounts
from sco_etl.tasks.news.extract import ParsedSources
from sco_etl.tasks.news.load import NewsWritten


@dataclass
class NewsSummary(LoadCounts):
    """The result of `ingest_news` (the flow returns it as a dict)."""

    sources: list[dict]
    """Per source: fetch, new / updated / unchanged / rejected items, status and message."""
    articles: int
    """Article pages asked for this run."""
    requests: int


def summarise_news(rows: list[dict], written: NewsWritten, articles: int,
                   requests: int) -> NewsSummary:
    return NewsSummary(
        inserted=written.inserted, updated=written.updated, unchanged=written.unchanged,
        rejected=written.rejected, revisions=written.revisions, partitions=written.partitions,
        sources=rows, articles=articles, requests=requests)


def source_warnings(parsed: ParsedSources) -> list[str]:
    """What a degraded source said (a listing with undated headlines, a feed left unclosed)."""
    return [f"{report.source}: {warning}"
            for report in parsed.reports for warning in report.warnings]


def sources_failed(failures: dict[str, str], sources: list[str],
                   written: NewsWritten) -> SourceError:
    """The run's error when sources failed: which and why, what was kept, what to do.

    The run ends Failed so that alerts fire; what the other sources gave is committed, and
    running again is safe (nothing is written twice).
    """
    others = (f"The others were written ({written.inserted} new items, "
              f"{written.updated} updated)."
              if len(failures) < len(sources) else "Nothing else was written.")
    return SourceError(
        f"{len(failures)} of {len(sources)} news sources failed — "
        + "; ".join(f"{source}: {why}" for source, why in failures.items())
        + f". {others} Check the network and the URL (`sco-etl news --feed URL` tries one "
        "source), or wait: the next run retries it."
    )
