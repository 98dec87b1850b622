"""Planning requests and the publication calendar."""

import datetime as dt
from pathlib import Path

import pytest

from sco_etl.schemas.errors import ConfigError
from sco_etl.tasks.cbr import calendar
from sco_etl.tasks.cbr.parse import parse_dynamic
from sco_etl.tasks.cbr.planning import (
    DailyRequest,
    DynamicRequest,
    Window,
    catch_up_window,
    plan_requests,
    plan_window,
)

IDS = [f"R0{i}" for i in range(1000, 1020)]


def test_full_backfill_is_one_request_per_currency_id():
    window = Window(dt.date(1992, 7, 1), dt.date(2026, 11, 30))
    requests = plan_requests(window, IDS, ["R01300", "R01545"])
    assert len(requests) == len(IDS) + 2
    assert all(isinstance(r, DynamicRequest) for r in requests)
    assert requests[0] == DynamicRequest(IDS[0], window.start, window.end)


def test_short_catch_up_uses_daily_documents_plus_monthly_dynamics():
    window = Window(dt.date(2025, 3, 25), dt.date(2025, 4, 2))
    requests = plan_requests(window, IDS, ["R01300"])
    assert [r for r in requests if isinstance(r, DailyRequest)] == [
        DailyRequest(window.start + dt.timedelta(days=i)) for i in range(9)]
    assert requests[-1] == DynamicRequest("R01300", window.start, window.end)


def test_plan_picks_the_cheaper_mode_at_the_boundary():
    ids = IDS[:10]
    assert all(isinstance(r, DailyRequest)
               for r in plan_requests(Window(dt.date(2025, 1, 1), dt.date(2025, 1, 10)), ids, []))
    assert all(isinstance(r, DynamicRequest)
               for r in plan_requests(Window(dt.date(2025, 1, 1), dt.date(2025, 1, 11)), ids, []))


def test_long_ranges_are_split():
    window = Window(dt.date(2000, 1, 1), dt.date(2000, 1, 10))
    requests = plan_requests(window, ["R01375"], [], max_dynamic_days=4)
    assert len(requests) == 3
    assert requests[-1] == DynamicRequest("R01375", dt.date(2000, 1, 9), dt.date(2000, 1, 10))


def test_catch_up_rechecks_seven_days_to_tomorrow():
    window = catch_up_window(dt.date(2025, 4, 3), tomorrow=dt.date(2025, 4, 10))
    assert window == Window(dt.date(2025, 3, 27), dt.date(2025, 4, 10))
    assert catch_up_window(None, dt.date(2025, 4, 10)).start == dt.date(2025, 4, 3)


def test_backfill_window_is_clipped_to_the_series():
    window = plan_window(None, dt.date(1990, 1, 1), None, tomorrow=dt.date(2025, 4, 2))
    assert window == Window(dt.date(1992, 7, 1), dt.date(2025, 4, 2))
    with pytest.raises(ConfigError, match="after end"):
        plan_window(None, dt.date(2025, 5, 1), dt.date(2025, 4, 1), dt.date(2025, 5, 2))


def test_calendar_matches_the_recorded_january_2025_document():
    recorded = parse_dynamic((Path(__file__).parents[1] / "fixtures" / "cbr" /
                              "XML_dynamic_R01235_2025-01-01_2025-01-20.xml").read_bytes())
    expected = list(calendar.publication_dates(dt.date(2025, 1, 1), dt.date(2025, 1, 18)))
    assert expected == [r.rate_date for r in recorded.records]


@pytest.mark.parametrize(
    ("day", "in_force"),
    [(dt.date(2025, 4, 6), dt.date(2025, 4, 5)),   # Sunday: Saturday's rate
     (dt.date(2025, 4, 7), dt.date(2025, 4, 5)),   # Monday: still Saturday's
     (dt.date(2025, 4, 8), dt.date(2025, 4, 8)),
     # The New Year holidays: CBR set their rates on Saturday 28 December 2024, a working day
     # by decree (30-31 December were days off), in force from 29 December to 9 January.
     (dt.date(2025, 1, 9), dt.date(2024, 12, 29)),
     (dt.date(2025, 5, 2), dt.date(2025, 5, 1))],  # 1 May: no rate set, none effective 2 May
)
def test_rate_in_force(day, in_force):
    assert calendar.latest_publication_on_or_before(day) == in_force
