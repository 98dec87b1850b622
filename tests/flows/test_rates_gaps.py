"""A catch-up heals publication dates missing anywhere in history, and learns skipped days."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from pytest_httpserver import HTTPServer

from sco_etl.flows.rates import ingest_rates
from sco_etl.schemas import RATES, UNPUBLISHED_DATES
from sco_etl.tasks.cbr import calendar
from sco_etl.tasks.cbr.calendar import missing_publication_dates
from sco_etl.tasks.cbr.run_plan import find_gaps
from sco_etl.warehouse import Warehouse
from tests.fakes.cbr_history import History
from tests.fakes.cbr_server import FakeCbr

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def skipping_cbr(cbr_env, today, monkeypatch):
    """A CBR that set no rate on one date the rule expects (a holiday moved by decree)."""
    skipped = calendar.latest_publication_on_or_before(today - dt.timedelta(days=36))
    fake = FakeCbr(History(last_date=today + dt.timedelta(days=1), unpublished={skipped}))
    server = HTTPServer(threaded=True)
    server.expect_request(re.compile(".*")).respond_with_handler(fake)
    server.start()
    monkeypatch.setenv("SCO_ETL_CBR_URL", server.url_for("/scripts/"))
    fake.skipped = skipped
    yield fake
    server.stop()


def dates(warehouse: Warehouse) -> set[dt.date]:
    return set(warehouse.read(RATES, columns=["rate_date"]).column("rate_date").to_pylist())


def test_catch_up_heals_a_lost_date_and_records_a_skipped_one(skipping_cbr, warehouse, today):
    ingest_rates(start=today - dt.timedelta(days=45), end=today - dt.timedelta(days=20),
                 currencies=["CNY"])
    lost = calendar.latest_publication_on_or_before(today - dt.timedelta(days=30))
    with warehouse.write() as writer:
        doomed = warehouse.read(RATES).filter(
            [d == lost for d in warehouse.read(RATES).column("rate_date").to_pylist()])
        assert writer.delete(RATES, doomed) == 1
    assert lost not in dates(warehouse) and skipping_cbr.skipped not in dates(warehouse)

    summary = ingest_rates(currencies=["CNY"])
    assert lost in dates(warehouse)
    assert warehouse.read(UNPUBLISHED_DATES).column("rate_date").to_pylist() == [
        skipping_cbr.skipped]
    assert summary.missing_dates == []
    # The summary names the dates it asked before its window, not only the window.
    assert summary.healed == sorted([lost, skipping_cbr.skipped])
    assert summary.covered() == (
        f"{summary.window[0]}..{summary.window[1]} and 2 missing dates before it "
        f"({summary.healed[0]}..{summary.healed[1]})")

    asked = dict(skipping_cbr.requests)
    assert ingest_rates(currencies=["CNY"]).healed == []
    # Nothing left to heal: one CNY currency, so the second catch-up is one XML_dynamic.
    assert skipping_cbr.requests["XML_daily.asp"] == asked["XML_daily.asp"]
    assert skipping_cbr.requests["XML_dynamic.asp"] == asked["XML_dynamic.asp"] + 1


def test_days_moved_by_decree_are_no_gaps():
    # CBR's dates around May 2024: Saturday 27 April worked, 29-30 April off, by decree.
    d = dt.date
    stored = {d(2024, 4, 25), d(2024, 4, 26), d(2024, 4, 27), d(2024, 4, 28), d(2024, 5, 3),
              d(2024, 5, 4), d(2024, 5, 7), d(2024, 5, 8)}
    assert find_gaps(stored, set(), before=d(2024, 5, 9), limit=10) == []


def test_a_stored_date_is_no_gap_whatever_the_rule_but_a_lost_one_is():
    d = dt.date
    # Sunday 30 March 2025 is no publication date by the rule; stored, it is one.
    stored = {d(2025, 3, 27), d(2025, 3, 28), d(2025, 3, 29), d(2025, 3, 30), d(2025, 4, 2)}
    assert find_gaps(stored, set(), before=d(2025, 4, 3), limit=10) == [d(2025, 4, 1)]
    assert find_gaps(stored, {d(2025, 4, 1)}, before=d(2025, 4, 3), limit=10) == []
    assert missing_publication_dates(stored, d(2025, 3, 27), d(2025, 4, 2),
                                     unpublished={d(2025, 4, 1)}) == []
