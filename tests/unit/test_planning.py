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
    follow_ups,
    plan_requests,
    plan_window,
)

IDS = [f"R0{i}" for i in range(1000, 1020)]
MONTHLY = ["R01300", "R01545"]
D = dt.date


def dates_of(window: Window) -> list[dt.date]:
    return list(calendar.publication_dates(window.start, window.end))


def plan(window: Window, daily_ids=IDS, monthly_ids=MONTHLY, covered=None, catch_up=True,
         **options) -> list:
    return plan_requests(window, dates_of(window), daily_ids, monthly_ids, covered or {},
                         catch_up, **options)


def test_full_backfill_is_one_request_per_currency_id():
    window = Window(D(1992, 7, 1), D(2026, 11, 30))
    requests = plan(window, catch_up=False)
    assert len(requests) == len(IDS) + 2
    assert all(isinstance(r, DynamicRequest) for r in requests)
    assert requests[0] == DynamicRequest(IDS[0], window.start, window.end)


def test_a_catch_up_reads_one_daily_document_per_publication_date():
    window = Window(D(2025, 3, 25), D(2025, 4, 2))  # Tuesday to Wednesday
    assert plan(window) == [DailyRequest(D(2025, 3, day)) for day in (25, 26, 27, 28, 29)] + [
        DailyRequest(D(2025, 4, 1)), DailyRequest(D(2025, 4, 2))]


def test_gaps_come_first_each_with_its_daily_document():
    window = Window(D(2025, 4, 1), D(2025, 4, 2))
    requests = plan(window, gaps=[D(2025, 3, 5), D(2025, 4, 1)])
    assert requests == [DailyRequest(D(2025, 3, 5)), DailyRequest(D(2025, 4, 1)),
                        DailyRequest(D(2025, 4, 2))]


def test_plan_picks_the_cheaper_mode_at_the_boundary():
    ids = IDS[:5]
    five = Window(D(2025, 1, 14), D(2025, 1, 18))  # five publication dates
    six = Window(D(2025, 1, 14), D(2025, 1, 21))   # six: Sunday and Monday have none
    assert all(isinstance(r, DailyRequest) for r in plan(five, ids, []))
    assert all(isinstance(r, DynamicRequest) for r in plan(six, ids, []))


def test_long_ranges_are_split():
    window = Window(D(2000, 2, 1), D(2000, 2, 10))  # eight publication dates, three ranges
    requests = plan(window, ["R01375"], [], max_dynamic_days=4)
    assert len(requests) == 3
    assert requests[-1] == DynamicRequest("R01375", D(2000, 2, 9), D(2000, 2, 10))


WINDOW = Window(D(2025, 3, 25), D(2025, 4, 2))


def follow(quoted, covered=None, catch_up=True, daily_ids=("R01000", "R01001"),
           monthly_ids=("R01300",)) -> list:
    return follow_ups(WINDOW, dates_of(WINDOW), list(daily_ids), list(monthly_ids),
                      covered or {}, catch_up, quoted)


def test_no_follow_up_when_the_daily_documents_quoted_everything():
    every_day = set(dates_of(WINDOW))
    assert follow({"R01000": every_day, "R01001": every_day, "R01300": every_day}) == []


def test_a_daily_listed_id_no_daily_document_quoted_is_asked_over_the_window():
    assert follow({"R01000": {D(2025, 3, 25)}}, covered={"R01300": {(2025, 3), (2025, 4)}}) == [
        DynamicRequest("R01001", WINDOW.start, WINDOW.end)]


def test_a_monthly_id_is_asked_from_its_first_uncovered_month():
    quoted = {"R01000": {D(2025, 3, 25)}, "R01001": {D(2025, 3, 25)}}
    # March stored, April not: a catch-up asks April from its first day.
    assert follow(quoted, covered={"R01300": {(2025, 3)}}) == [
        DynamicRequest("R01300", D(2025, 4, 1), WINDOW.end)]
    # Nothing stored: from 1 March, where March's rate was set.
    assert follow(quoted) == [DynamicRequest("R01300", D(2025, 3, 1), WINDOW.end)]
    # A backfill asks its own range.
    assert follow(quoted, catch_up=False) == [
        DynamicRequest("R01300", WINDOW.start, WINDOW.end)]
    # The daily documents quoted it in both months (CBR sets it daily now): nothing to ask.
    assert follow(quoted | {"R01300": {D(2025, 3, 28), D(2025, 4, 1)}}) == []


def test_catch_up_rechecks_seven_days_to_tomorrow_from_a_publication_date():
    window = catch_up_window(D(2025, 4, 3), tomorrow=D(2025, 4, 10))
    assert window == Window(D(2025, 3, 27), D(2025, 4, 10))
    # Seven days before Tuesday 8 April is a Tuesday: a publication date, kept.
    assert catch_up_window(D(2025, 4, 8), D(2025, 4, 9)).start == D(2025, 4, 1)
    # Seven days before Monday 14 April is a Monday: the window starts on Tuesday.
    assert catch_up_window(D(2025, 4, 14), D(2025, 4, 15)).start == D(2025, 4, 8)
    assert catch_up_window(None, D(2025, 4, 10)).start == D(2025, 4, 3)


def test_backfill_window_is_clipped_to_the_series():
    window = plan_window(None, dt.date(1990, 1, 1), None, tomorrow=dt.date(2025, 4, 2))
    assert window == Window(dt.date(1992, 7, 1), dt.date(2025, 4, 2))
    with pytest.raises(ConfigError, match="after end"):
        plan_window(None, dt.date(2025, 5, 1), dt.date(2025, 4, 1), dt.date(2025, 5, 2))


def test_calendar_matches_the_recorded_january_2025_document():
    recorded = parse_dynamic((Path(__file__).parents[1] / "fixtures" / "cbr" /
                              "XML_dynamic_R01235_2025-01-01_2025-01-20.xml").read_bytes())
    expected = list(calendar.publication_dates(dt.date(2025, 1, 1), dt.date(2025, 1, 18)))
    assert expected == recorded.records["rate_date"].to_pylist()


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
