"""Prefect task wrappers of the rates work: names, retries, no caching of live data."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.cbr import extract, load
from tasks.cbr.planning import Window

fetch_directory = task(name="fetch-currency-directory", cache_policy=NO_CACHE)(
    extract.load_directory
)
fetch_documents = task(name="fetch-cbr-documents", cache_policy=NO_CACHE)(extract.fetch_documents)
parse_documents = task(name="parse-cbr-documents", cache_policy=NO_CACHE)(extract.parse_documents)
validate_rates = task(name="validate-rates", cache_policy=NO_CACHE)(extract.validate_rates)
write_rates = task(name="write-rates", cache_policy=NO_CACHE)(load.write_rates)


@task(name="publish-rates-summary", cache_policy=NO_CACHE)
def publish_summary(written: load.RatesWritten, window: Window, requests: int) -> None:
    """A table artifact of what the run wrote, rejected and found missing."""
    missing = ", ".join(str(d) for d in written.missing_dates[:20])
    if len(written.missing_dates) > 20:
        missing += f" … ({len(written.missing_dates)} in all)"
    create_table_artifact(
        key="rates-load",
        table=[
            {"what": "window", "value": f"{window.start} .. {window.end}"},
            {"what": "HTTP requests", "value": requests},
            {"what": "rates written (new)", "value": written.inserted},
            {"what": "rates revised", "value": written.updated},
            {"what": "rates unchanged", "value": written.unchanged},
            {"what": "records rejected (quarantine)", "value": written.rejected},
            {"what": "partitions rewritten", "value": ", ".join(written.partitions) or "none"},
            {"what": "publication dates missing", "value": missing or "none"},
            {"what": "not quoted by CBR", "value": ", ".join(written.unquoted_codes) or "none"},
        ],
        description=f"CBR rates load {window.start} .. {window.end}",
    )
