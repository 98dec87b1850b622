"""The `ingest_rates` flow: CBR official rates of SCO currencies into the warehouse."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.config import resolve
from schemas import CURRENCIES
from schemas.checks import MOSCOW, tomorrow_in_moscow
from tasks.cbr import load, prefect_tasks
from tasks.cbr.board import publish_board
from tasks.cbr.client import CbrClient
from tasks.cbr.currencies import resolve as resolve_currencies
from tasks.cbr.planning import plan_requests, plan_window
from tasks.http import HttpClient
from tasks.ledger import RunInfo
from tasks.settings import FETCH_WORKERS, MAX_HEALED_GAPS


def rates_run_name() -> str:
    """`rates-2025-04-01` for a catch-up, `backfill-1992-07-01-2025-04-01` for a range."""
    parameters = flow_run.get_parameters() or {}
    start, end = parameters.get("start"), parameters.get("end")
    if start:
        return f"backfill-{start}-{end or 'tomorrow'}"
    return f"rates-{dt.datetime.now(MOSCOW).date()}"


@flow(name="ingest-rates", flow_run_name=rates_run_name, log_prints=True)
def ingest_rates(
    start: dt.date | None = None,
    end: dt.date | None = None,
    currencies: list[str] | None = None,
    data_dir: str | None = None,
    cbr_url: str | None = None,
) -> dict:
    """Ingest CBR rates of SCO currencies: catch up with no dates, backfill with them."""
    config = resolve(data_dir, cbr_url, currencies)
    logger = get_run_logger()
    run = RunInfo(str(flow_run.get_id() or "local"), "ingest-rates",
                  {"start": start, "end": end, "currencies": currencies})
    warehouse = config.warehouse()
    client = CbrClient(config.cbr_url, HttpClient(config.http))
    try:
        window = plan_window(load.latest_rate_date(warehouse), start, end,
                             tomorrow_in_moscow())
        stored_directory = warehouse.read(CURRENCIES)
        # A backfill (or a first run) refreshes the directory; a catch-up uses the stored one.
        refresh = start is not None or end is not None or not stored_directory.num_rows
        directory = prefect_tasks.fetch_directory(client, stored_directory, refresh=refresh)
        currency_set = resolve_currencies(directory, config.currencies)
        # A catch-up also re-asks publication dates missing anywhere in history.
        gaps = [] if start or end else load.find_gaps(warehouse, window.start,
                                                             MAX_HEALED_GAPS)
        requests = plan_requests(window, list(currency_set.daily_ids),
                                 list(currency_set.monthly_ids), gaps=gaps)
        logger.info("window %s..%s, %d gaps to heal: %d requests for %d currency IDs",
                    window.start, window.end, len(gaps), len(requests), len(currency_set.ids))
        documents = prefect_tasks.fetch_documents(client, requests, FETCH_WORKERS)
        batch = prefect_tasks.parse_documents(documents, directory, currency_set, run)
        checked = prefect_tasks.validate_rates(batch)
        written = prefect_tasks.write_rates(warehouse, checked, directory, run, window,
                                          currency_set, client.http.requests_made)
        prefect_tasks.publish_summary(written, window, client.http.requests_made)
        publish_board(warehouse)
    except Exception as error:
        load.record_failure(warehouse, run, error, client.http.requests_made)
        raise
    logger.info("%d new, %d revised, %d unchanged, %d rejected",
                written.inserted, written.updated, written.unchanged, written.rejected)
    return {
        "window": [str(window.start), str(window.end)],
        "requests": client.http.requests_made,
        "inserted": written.inserted,
        "updated": written.updated,
        "unchanged": written.unchanged,
        "rejected": written.rejected,
        "revisions": written.revisions,
        "partitions": written.partitions,
        "rows_written": written.rows_written,
        "missing_dates": [str(d) for d in written.missing_dates],
        "unquoted": written.unquoted_codes,
    }

