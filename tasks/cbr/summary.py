"""What a rates run did, as a flow result and as the rows of its table artifact."""

from __future__ import annotations

from dataclasses import dataclass

from sco_etl.tasks.cbr.load import RatesWritten
from sco_etl.tasks.cbr.run_plan import RatesPlan
from sco_etl.tasks.ledger import LoadCounts

MISSING_SHOWN = 20
"""Missing dates listed by name in the artifact; the rest are counted."""


@dataclass
class RatesSummary(LoadCounts):
    """The result of `ingest_rates` (the flow returns it as a dict)."""

    window: list[str]
    """First and last effective date covered, ISO."""
    requests: int
    rows_written: int
    missing_dates: list[str]
    unquoted: list[str]
    """Requested codes CBR quotes no rate for."""


def summarise_rates(plan: RatesPlan, written: RatesWritten, requests: int) -> RatesSummary:
    return RatesSummary(
        window=[str(plan.window.start), str(plan.window.end)],
        requests=requests,
        inserted=written.inserted, updated=written.updated, unchanged=written.unchanged,
        rejected=written.rejected, revisions=written.revisions,
        partitions=written.partitions, rows_written=written.rows_written,
        missing_dates=[str(d) for d in written.missing_dates],
        unquoted=written.unquoted_codes,
    )


def artifact_rows(summary: RatesSummary) -> list[dict]:
    """The rows of the `rates-load` table artifact."""
    missing = ", ".join(summary.missing_dates[:MISSING_SHOWN])
    if len(summary.missing_dates) > MISSING_SHOWN:
        missing += f" … ({len(summary.missing_dates)} in all)"
    return [
        {"what": "window", "value": " .. ".join(summary.window)},
        {"what": "HTTP requests", "value": summary.requests},
        {"what": "rates written (new)", "value": summary.inserted},
        {"what": "rates revised", "value": summary.updated},
        {"what": "rates unchanged", "value": summary.unchanged},
        {"what": "records rejected (quarantine)", "value": summary.rejected},
        {"what": "partitions rewritten", "value": ", ".join(summary.partitions) or "none"},
        {"what": "publication dates missing", "value": missing or "none"},
        {"what": "not quoted by CBR", "value": ", ".join(summary.unquoted) or "none"},
    ]
