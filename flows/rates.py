"""The `ingest_rates` flow: CBR official rates of SCO currencies into the warehouse."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.futures import wait
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from sco_etl.flows.config import resolve
from sco_etl.schemas.clock import moscow_today, moscow_tomorrow
from sco_etl.tasks.cbr import prefect_tasks as cbr
from sco_etl.tasks.cbr.board import publish_board
from sco_etl.tasks.cbr.load import record_failure
from sco_etl.tasks.cbr.settings import FETCH_WORKERS, MAX_HEALED_GAPS
from sco_etl.tasks.cbr.summary import summarise_rates
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
) -> dict:
    """Ingest CBR rates of SCO currencies: catch up with no dates, backfill with them."""
    config = resolve(data_dir, cbr_url, currencies)
    logger = get_run_logger()
    run = Run(str(flow_run.get_id() or "local"), "ingest-rates",
                  {"start": start, "end": end, "currencies": currencies})
    warehouse = config.warehouse()
    requests = 0
    try:
        plan = cbr.plan_rates(warehouse, config.cbr, config.currencies, start, end,
                              moscow_tomorrow(), max_healed_gaps)
        requests += plan.requests_made
        logger.info("window %s..%s, %d gaps to heal: %d requests for %d currency IDs",
                    plan.window.start, plan.window.end, len(plan.gaps), len(plan.requests),
                    len(plan.currency_set.ids))
        shares = deal(plan.requests, fetch_workers)
        fetches = [cbr.fetch_rates.submit(config.cbr, share, plan.directory, plan.currency_set,
                                          run, len(shares)) for share in shares]
        wait(fetches)
        batches = [fetch.result() for fetch in fetches]
        requests += sum(batch.requests_made for batch in batches)
        checked = cbr.validate_rates(batches, plan.directory, run)
        written = cbr.write_rates(warehouse, checked, plan, run, requests)
        summary = summarise_rates(plan, written, requests)
        cbr.publish_summary(summary)
        publish_board(warehouse)
    except Exception as error:
        record_failure(warehouse, run, error, requests + getattr(error, "requests_made", 0))
        raise
    logger.info("%d new, %d revised, %d unchanged, %d rejected",
                written.inserted, written.updated, written.unchanged, written.rejected)
    return asdict(summary)
