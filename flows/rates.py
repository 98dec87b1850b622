"""The `ingest_rates` flow: CBR official rates of SCO currencies into the warehouse."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from sco_etl.flows.config import resolve
from sco_etl.schemas.clock import moscow_today, moscow_tomorrow
from sco_etl.tasks.cbr.board import publish_board
from sco_etl.tasks.cbr.client import CbrSource
from sco_etl.tasks.cbr.extract import RateBatch, fetch_rates, validate_rates
from sco_etl.tasks.cbr.load import RatesResult, publish_summary, record_failure, write_rates
from sco_etl.tasks.cbr.planning import Request
from sco_etl.tasks.cbr.run_plan import RatesPlan, plan_rates
from sco_etl.tasks.cbr.settings import FETCH_WORKERS, MAX_HEALED_GAPS
from sco_etl.tasks.http import deal
from sco_etl.tasks.run import Run


def rates_run_name() -> str:
    """`rates-2025-04-01` for a catch-up, `backfill-1992-07-01-2025-04-01` for a range."""
    parameters = flow_run.get_parameters() or {}
    start, end = parameters.get("start"), parameters.get("end")
    if start:
        return f"backfill-{start}-{end or 'tomorrow'}"
    return f"rates-{moscow_today()}"


@flow(name="ingest-rates", flow_run_name=rates_run_name, log_prints=True,
      task_runner=ThreadPoolTaskRunner(max_workers=FETCH_WORKERS))
def ingest_rates(
    start: dt.date | None = None,
    end: dt.date | None = None,
    currencies: list[str] | None = None,
    data_dir: str | None = None,
    cbr_url: str | None = None,
    fetch_workers: int = FETCH_WORKERS,
    max_healed_gaps: int = MAX_HEALED_GAPS,
) -> RatesResult:
    """Ingest CBR rates of SCO currencies: catch up with no dates, backfill with them."""
    config = resolve(data_dir, cbr_url, currencies)
    run = Run(str(flow_run.get_id() or "local"), "ingest-rates",
              {"start": start, "end": end, "currencies": currencies})
    warehouse = config.warehouse()
    try:
        warehouse.migrate()
        plan = plan_rates(warehouse, config.cbr, config.currencies, start, end,
                          moscow_tomorrow(), max_healed_gaps, run)
        batches = fetch_shares(config.cbr, plan, plan.requests, fetch_workers, run)
        follow_ups = plan.follow_ups(batches)
        if follow_ups:
            run.planned(len(follow_ups))
            batches += fetch_shares(config.cbr, plan, follow_ups, fetch_workers, run)
        checked = validate_rates(batches, plan.directory, run)
        result = write_rates(warehouse, checked, plan, run)
        publish_summary(result)
        publish_board(warehouse)
    except Exception as error:
        record_failure(warehouse, run, error)
        raise
    get_run_logger().info("%d new, %d revised, %d unchanged, %d rejected; %d requests",
                          result.inserted, result.updated, result.unchanged, result.rejected,
                          result.requests)
    return result


def fetch_shares(source: CbrSource, plan: RatesPlan, requests: list[Request], workers: int,
                 run: Run) -> list[RateBatch]:
    """`requests` dealt into at most `workers` fetch tasks on the flow's task runner.

    A share that ran in another process (a Dask worker) reported to a copy of `run`: what it
    counted is added to `run`, also when another share failed.
    """
    shares = deal(requests, workers)
    fetches = [fetch_rates.submit(source, share, plan.directory, plan.currency_set, run,
                                  len(shares)) for share in shares]
    wait(fetches)
    for fetch in fetches:
        if fetch.state.is_completed():
            run.absorb(fetch.result().run)
    return [fetch.result() for fetch in fetches]
