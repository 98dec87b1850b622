"""The `check_freshness` flow: fail loudly when rates or news are later than they should be.

A failed run is the signal: Prefect notifications and automations ("flow run failed, tag
freshness") act on it, and its message says what is late and since when.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from sco_etl.flows.config import resolve
from sco_etl.schemas.clock import MOSCOW, utc_now
from sco_etl.schemas.errors import StaleDataError
from sco_etl.tasks import freshness


def freshness_run_name() -> str:
    """`freshness-2025-04-01T19:45` (Moscow time): when the check looked."""
    now = (flow_run.get_parameters() or {}).get("now") or utc_now()
    if isinstance(now, str):
        now = dt.datetime.fromisoformat(now)
    return f"freshness-{now.astimezone(MOSCOW):%Y-%m-%dT%H:%M}"


def report_markdown(report: freshness.FreshnessReport) -> str:
    """A markdown table of every verdict, for the run's artifact."""
    lines = [f"### Freshness at {report.now.astimezone(MOSCOW):%Y-%m-%d %H:%M} MSK", "",
             "| dataset | latest | status |", "|---|---|---|"]
    for check in report.checks:
        lines.append(f"| {check.subject} | {check.stored()} | {check.status(report.now)} |")
    return "\n".join(lines) + "\n"


read_state = task(name="read-freshness-state", cache_policy=NO_CACHE)(freshness.observe)
judge = task(name="judge-freshness", cache_policy=NO_CACHE)(freshness.assess)


@task(name="publish-freshness-report", cache_policy=NO_CACHE)
def publish_report(report: freshness.FreshnessReport) -> None:
    create_markdown_artifact(key="freshness", markdown=report_markdown(report),
                             description=report.summary())


@flow(name="check-freshness", flow_run_name=freshness_run_name, log_prints=True)
def check_freshness(
    data_dir: str | None = None,
    rates_grace_hours: float = freshness.DEFAULT_RATES_GRACE.total_seconds() / 3600,
    news_max_age_hours: float = freshness.DEFAULT_NEWS_MAX_AGE.total_seconds() / 3600,
    now: dt.datetime | None = None,
) -> dict:
    """Check rates against the CBR calendar and news against its cadence; fail when late."""
    warehouse = resolve(data_dir).warehouse()
    moment = now or utc_now()
    stored_rates, news_activity = read_state(warehouse)
    report = judge(stored_rates, news_activity, moment,
                   dt.timedelta(hours=rates_grace_hours), dt.timedelta(hours=news_max_age_hours))
    publish_report(report)
    if report.late:
        raise StaleDataError(report.summary())
    get_run_logger().info(report.summary())
    return {check.subject: check.message(moment) for check in report.checks}
