"""Reruns are a property, not an example (issue 18).

Any sequence of rates runs — catch-ups and overlapping backfills, in any order — in any state
of CBR's directory ends equal to one clean run: no extra row, no revision, no quarantine row,
nothing but their `loads` rows.

"One clean run" is a single backfill, on an empty warehouse, over the dates the sequence
stored (from the first to the last): the one reading of those dates that no earlier run can
have influenced. The sequence must hold exactly its rows for the keys it stored, and every
rate the clean run has within the window of any run of the sequence. (A catch-up heals gaps
and reads a monthly currency from its month's start, so the sequence may hold more than the
union of its windows; never a row the clean run lacks or holds differently.)

The clock is frozen (time-machine) at a few Moscow moments, so that each catch-up's window
is what that day's would be. The property runs the flow's steps as plain functions, in the
flow's order (`flows/rates.py`): a Prefect flow run under the test harness costs a second or
two, and the property asks for hundreds of runs. `test_the_issue_s_reruns_through_the_flow`
runs the reported sequence through the real flow.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from sco_etl.flows.config import resolve
from sco_etl.schemas import (
    CURRENCIES,
    LOADS,
    QUARANTINE,
    RATE_REVISIONS,
    RATES,
    UNPUBLISHED_DATES,
)
from sco_etl.schemas.clock import MOSCOW, moscow_tomorrow
from sco_etl.tasks.cbr.extract import fetch_rates, validate_rates
from sco_etl.tasks.cbr.load import RatesResult, write_rates
from sco_etl.tasks.cbr.run_plan import plan_rates
from sco_etl.tasks.cbr.settings import MAX_HEALED_GAPS
from sco_etl.tasks.run import Run
from sco_etl.warehouse import Warehouse
from tests.fakes.cbr_history import History
from tests.fakes.cbr_server import DIRECTORY_STATES, FakeCbr

CURRENCIES_ASKED = ["CNY", "KZT", "BYN", "AED", "EGP", "QAR", "KWD", "SAR", "IRR", "PKR"]
"""Daily ones (BYN with its retired predecessor), the three CBR quotes daily but lists as
monthly, two set monthly that one state lists as daily, and two set monthly."""
MOMENTS = {
    "a Wednesday, a month just begun": dt.datetime(2026, 12, 2, 17, 0, tzinfo=MOSCOW),
    "a Monday night": dt.datetime(2026, 11, 16, 1, 30, tzinfo=MOSCOW),
    "after the New Year holidays": dt.datetime(2027, 1, 12, 17, 0, tzinfo=MOSCOW),
}
LINEAGE = {"loaded_at", "run_id", "checked_at"}


@dataclass(frozen=True)
class CatchUp:
    """`sco-etl rates`."""


@dataclass(frozen=True)
class Backfill:
    """`sco-etl rates --start today-back --end start+days`."""

    back: int
    days: int

    def dates(self, today: dt.date) -> tuple[dt.date, dt.date]:
        start = today - dt.timedelta(days=self.back)
        return start, min(start + dt.timedelta(days=self.days), today + dt.timedelta(days=1))


RUNS = st.one_of(st.just(CatchUp()),
                 st.builds(Backfill, st.integers(0, 75), st.integers(0, 45)))


@pytest.fixture(scope="module")
def empty(tmp_path_factory) -> Path:
    """A migrated, empty warehouse to copy: each example starts two (a third of its time)."""
    root = tmp_path_factory.mktemp("reruns") / "empty"
    Warehouse(root).migrate()
    return root


class Service:
    """One local server, answering as the fake of the moment and directory state in use."""

    def __init__(self) -> None:
        self.fakes: dict[tuple[str, str], FakeCbr] = {}
        self.current: FakeCbr | None = None
        self.server = HTTPServer(threaded=True)
        self.server.expect_request(re.compile(".*")).respond_with_handler(
            lambda request: self.current(request))
        self.server.start()
        self.url = self.server.url_for("/scripts/")

    def use(self, moment: str, state: str) -> FakeCbr:
        key = (moment, state)
        if key not in self.fakes:
            tomorrow = MOMENTS[moment].date() + dt.timedelta(days=1)
            history = History(last_date=tomorrow, first_date=dt.date(2026, 1, 1))
            self.fakes[key] = FakeCbr(history, listing=DIRECTORY_STATES[state])
        self.current = self.fakes[key]
        return self.current


@pytest.fixture(scope="module")
def service():
    service = Service()
    yield service
    service.server.stop()


@pytest.fixture
def fast_http(monkeypatch):
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")


def ingest(warehouse: Warehouse, url: str, run_id: str, start: dt.date | None = None,
           end: dt.date | None = None) -> RatesResult:
    """One rates run: the steps of `ingest_rates`, as plain functions, in one share each."""
    config = resolve(str(warehouse.root), url, CURRENCIES_ASKED)
    run = Run(run_id, "ingest-rates", {"start": start, "end": end})
    warehouse.migrate()
    plan = plan_rates.fn(warehouse, config.cbr, config.currencies, start, end,
                         moscow_tomorrow(), MAX_HEALED_GAPS, run)
    batches = [fetch_rates.fn(config.cbr, plan.requests, plan.directory, plan.currency_set,
                              run)]
    follow_ups = plan.follow_ups(batches)
    if follow_ups:
        batches.append(fetch_rates.fn(config.cbr, follow_ups, plan.directory,
                                      plan.currency_set, run))
    checked = validate_rates.fn(batches, plan.directory, run)
    return write_rates.fn(warehouse, checked, plan, run)


def contents(warehouse: Warehouse, table) -> list[dict]:
    rows = [{k: v for k, v in row.items() if k not in LINEAGE}
            for row in warehouse.read(table).to_pylist()]
    return sorted(rows, key=lambda row: tuple(str(row[k]) for k in table.key))


def keyed(rows: list[dict]) -> dict[tuple, dict]:
    return {(row["rate_date"], row["cbr_id"]): row for row in rows}


def fresh(empty: Path, root: Path) -> Warehouse:
    shutil.copytree(empty, root)
    return Warehouse(root)


def check_equal_to_one_clean_run(empty: Path, root: Path, url: str, runs: list,
                                 today: dt.date) -> None:
    warehouse = fresh(empty, root / "sequence")
    windows = []
    for number, run in enumerate(runs):
        dates = run.dates(today) if isinstance(run, Backfill) else (None, None)
        windows.append(ingest(warehouse, url, f"run-{number}", *dates).window)
    stored = keyed(contents(warehouse, RATES))
    clean = fresh(empty, root / "clean")
    if stored:  # (a backfill of a Sunday and Monday stores nothing: Saturday's rate holds)
        ingest(clean, url, "clean", min(day for day, _ in stored), max(day for day, _ in stored))
    expected = keyed(contents(clean, RATES))

    assert {key: expected.get(key) for key in stored} == stored  # no extra row, none different
    within = {key for key in expected
              if any(start <= key[0] <= end for start, end in windows)}
    assert within - stored.keys() == set(), "a rate of a run's window is missing"
    assert contents(warehouse, RATE_REVISIONS) == []
    assert contents(warehouse, QUARANTINE) == []
    assert contents(warehouse, UNPUBLISHED_DATES) == contents(clean, UNPUBLISHED_DATES) == []
    if stored:
        assert contents(warehouse, CURRENCIES) == contents(clean, CURRENCIES)
    loads = warehouse.read(LOADS).to_pylist()
    assert [(r["run_id"], r["status"]) for r in loads] == [
        (f"run-{n}", "completed") for n in range(len(runs))]


def run_sequence(service: Service, empty: Path, moment: str, state: str, runs: list) -> None:
    service.use(moment, state)
    with time_machine.travel(MOMENTS[moment], tick=False), \
            tempfile.TemporaryDirectory() as folder:
        check_equal_to_one_clean_run(empty, Path(folder), service.url, runs,
                                     MOMENTS[moment].date())


SEQUENCES = given(moment=st.sampled_from(sorted(MOMENTS)),
                  state=st.sampled_from(sorted(DIRECTORY_STATES)),
                  runs=st.lists(RUNS, min_size=1, max_size=4))
COMMON = {"deadline": None, "derandomize": True,
          "suppress_health_check": [HealthCheck.function_scoped_fixture,
                                    HealthCheck.too_slow]}


@settings(max_examples=25, **COMMON)
@SEQUENCES
def test_any_sequence_of_runs_ends_equal_to_one_clean_run(service, empty, fast_http, moment,
                                                          state, runs):
    run_sequence(service, empty, moment, state, runs)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ~3 s an example
@settings(max_examples=250, **(COMMON | {"derandomize": False}))
@SEQUENCES
def test_any_sequence_of_runs_ends_equal_to_one_clean_run_long(service, empty, fast_http,
                                                               moment, state, runs):
    run_sequence(service, empty, moment, state, runs)


@pytest.mark.parametrize("state", sorted(DIRECTORY_STATES))
def test_a_rerun_of_a_catch_up_changes_nothing_in_any_directory_state(service, fast_http,
                                                                      state, tmp_path):
    service.use("a Wednesday, a month just begun", state)
    with time_machine.travel(MOMENTS["a Wednesday, a month just begun"], tick=False):
        warehouse = Warehouse(tmp_path / "data")
        today = MOMENTS["a Wednesday, a month just begun"].date()
        ingest(warehouse, service.url, "backfill", today - dt.timedelta(days=40), today)
        ingest(warehouse, service.url, "first")
        before = contents(warehouse, RATES)
        again = ingest(warehouse, service.url, "again")
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)
    assert again.unchanged > 0 and contents(warehouse, RATES) == before
    assert warehouse.read(QUARANTINE).num_rows == 0


def test_the_issue_s_reruns_through_the_flow(service, fast_http, tmp_path, prefect_harness):
    """The report: after a backfill, "12 revised" on each rerun, and every catch-up after a
    full backfill quarantined 36 valid rows (AED, EGP, QAR from XML_daily and XML_dynamic)."""
    from sco_etl.flows.rates import ingest_rates

    moment = "a Wednesday, a month just begun"
    fake = service.use(moment, "daily quoted, listed monthly")
    today = MOMENTS[moment].date()
    data = str(tmp_path / "data")
    with time_machine.travel(MOMENTS[moment], tick=True):
        backfill = {"start": today - dt.timedelta(days=60), "end": today, "data_dir": data,
                    "cbr_url": service.url, "currencies": CURRENCIES_ASKED}
        ingest_rates(**backfill)
        again = ingest_rates(**backfill)
        fake.requests.clear()
        catch_up = ingest_rates(data_dir=data, cbr_url=service.url,
                                currencies=CURRENCIES_ASKED)
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)
    assert (catch_up.updated, catch_up.rejected) == (0, 0)
    warehouse = Warehouse(data)
    assert warehouse.read(QUARANTINE).num_rows == warehouse.read(RATE_REVISIONS).num_rows == 0
    rates = warehouse.read(RATES)
    aed = rates.filter(pc.equal(rates["char_code"], "AED")).to_pylist()
    assert {row["frequency"] for row in aed} == {"monthly"}  # as the directory lists it
    # The catch-up read the XML_daily documents only: they quote AED, EGP and QAR.
    assert set(fake.requests) == {"XML_daily.asp"}
