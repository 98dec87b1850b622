"""One clock: the date-sensitive commands give Moscow's answer on any host, at the edges.

Each check runs with the host's zone set to UTC and to California, and the clock frozen at the
moments where a host's own date differs from Moscow's or where the CBR calendar turns: the small
hours of Moscow, Sunday and Monday nights, the New Year holidays, and 2012, when Moscow was
UTC+4 (the tz database knows; a fixed +03:00 would be an hour off).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal

import pyarrow as pa
import pytest
import time_machine
from typer.testing import CliRunner

from sco_etl.flows.cli import app
from sco_etl.schemas import RATES
from sco_etl.schemas.clock import moscow_today, moscow_tomorrow
from sco_etl.tasks import freshness
from sco_etl.tasks.cbr.planning import plan_window
from sco_etl.warehouse import Warehouse
from tests.fakes.seed import store_yuan_directory

runner = CliRunner()
D = dt.date
STORED = {  # the yuan's rate by effective date: each edge must show the one in force
    D(2012, 6, 1): "5.0001", D(2012, 6, 2): "5.0002",
    D(2026, 11, 27): "11.0001", D(2026, 11, 28): "11.0002", D(2026, 12, 1): "11.0003",
    D(2026, 12, 31): "12.0001",
}
EDGES = [  # (the moment, UTC; Moscow's day then; the rate in force that day)
    pytest.param("2026-11-29T22:17:00", D(2026, 11, 30), "11.0002", id="monday-01:17-msk"),
    pytest.param("2026-11-28T21:30:00", D(2026, 11, 29), "11.0002", id="sunday-00:30-msk"),
    pytest.param("2026-11-30T23:59:00", D(2026, 12, 1), "11.0003", id="tuesday-02:59-msk"),
    pytest.param("2027-01-02T22:00:00", D(2027, 1, 3), "12.0001", id="new-year-holidays"),
    pytest.param("2012-06-01T20:30:00", D(2012, 6, 2), "5.0002", id="utc+4-era"),
]


@pytest.fixture(params=["UTC", "America/Los_Angeles"])
def host_zone(request):
    """The host's own time zone, as a machine set to it would have it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Warehouse:
    warehouse = Warehouse(tmp_path_factory.mktemp("zones") / "data")
    loaded = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = [{"rate_date": day, "cbr_id": "R01375", "char_code": "CNY", "num_code": "156",
             "nominal": 1, "value": Decimal(value), "unit_rate": Decimal(value),
             "frequency": "daily", "loaded_at": loaded, "run_id": "zones"}
            for day, value in STORED.items()]
    warehouse.transaction(lambda writer: writer.upsert(
        RATES, pa.Table.from_pylist(rows, schema=RATES.arrow_schema)))
    store_yuan_directory(warehouse)
    return warehouse


@pytest.mark.parametrize(("moment", "day", "rate"), EDGES)
def test_today_is_moscows_on_any_host(host_zone, stored, tmp_path, moment, day, rate):
    env = {"SCO_ETL_DATA_DIR": str(stored.root), "COLUMNS": "200"}
    with time_machine.travel(dt.datetime.fromisoformat(moment).replace(tzinfo=dt.UTC),
                             tick=False):
        assert dt.date.today() != day  # the host's own date is another day: a real edge
        assert moscow_today() == day and moscow_tomorrow() == day + dt.timedelta(days=1)
        board = runner.invoke(app, ["board", "--format", "csv"], env=env)
        page = runner.invoke(app, ["page", "--output", str(tmp_path / "site")], env=env)
        # a catch-up covers up to Moscow's tomorrow: CBR publishes tomorrow's rates today
        window = plan_window(max(STORED), None, None, moscow_tomorrow())
    assert board.exit_code == 0, board.output
    china = next(line for line in board.stdout.splitlines() if line.startswith("China,"))
    assert china.split(",")[5] == rate  # the Rate column: the rate in force that Moscow day
    assert page.exit_code == 0, page.output
    html = (tmp_path / "site" / day.isoformat() / "index.html").read_text(encoding="utf-8")
    assert f'data-day="{day.isoformat()}"' in html and f">{rate}</td>" in html
    assert window.end == day + dt.timedelta(days=1)


def test_monday_night_rates_are_fresh_not_late(host_zone):
    # 01:17 Monday in Moscow, Saturday's rates stored: they hold until Tuesday's are due.
    now = dt.datetime(2026, 11, 29, 22, 17, tzinfo=dt.UTC)
    verdict = freshness.rates_freshness(D(2026, 11, 28), now)
    assert verdict.expected == D(2026, 11, 28) and not verdict.is_late
