"""Prefect task wrappers of the rates work: names, no caching of live data.

Retries and timeouts live in the HTTP seam (`tasks.http`): retries per request, since
retrying a whole task would ask CBR again for documents it already gave; timeouts as each
client's budget, since a Prefect timeout cannot interrupt a task in a worker thread.
Every input is a plain value (settings, dates, Arrow tables), so a task can run on a Dask
worker as well as in the flow's process.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from sco_etl.tasks.cbr import extract, load, run_plan, summary

# Timeouts: each network task's client gives up after its budget (`DIRECTORY_TIMEOUT`,
# `FETCH_TIMEOUT`), enforced in the HTTP seam between socket reads.
plan_rates = task(name="plan-rates", cache_policy=NO_CACHE)(run_plan.plan_rates)
fetch_rates = task(name="fetch-cbr-documents", cache_policy=NO_CACHE)(extract.fetch_rates)
validate_rates = task(name="validate-rates", cache_policy=NO_CACHE)(extract.validate_rates)
write_rates = task(name="write-rates", cache_policy=NO_CACHE)(load.write_rates)


@task(name="publish-rates-summary", cache_policy=NO_CACHE)
def publish_summary(result: summary.RatesSummary) -> None:
    """A table artifact of what the run wrote, rejected and found missing."""
    create_table_artifact(key="rates-load", table=summary.artifact_rows(result),
                          description=f"CBR rates load {' .. '.join(result.window)}")
