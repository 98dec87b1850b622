"""The CBR publication calendar: Russian working days with decree transfers, then the warehouse."""

from __future__ import annotations

import datetime as dt

import pytest

from sco_etl.tasks.cbr import calendar

D = dt.date


@pytest.mark.parametrize("saturday", [D(2024, 4, 27), D(2024, 11, 2), D(2024, 12, 28)])
def test_a_saturday_worked_by_decree_sets_a_rate_effective_on_sunday(saturday):
    sunday = saturday + dt.timedelta(days=1)
    assert calendar.is_working_day(saturday)
    assert calendar.is_publication_date(sunday)
    assert calendar.latest_publication_on_or_before(sunday + dt.timedelta(days=1)) == sunday


@pytest.mark.parametrize("day_off", [D(2024, 4, 29), D(2024, 4, 30), D(2024, 12, 30),
                                     D(2024, 12, 31), D(2025, 5, 2), D(2026, 1, 9)])
def test_a_weekday_off_by_decree_sets_no_rate(day_off):
    assert not calendar.is_working_day(day_off)
    assert not calendar.is_publication_date(day_off + dt.timedelta(days=1))


def test_may_2024_holidays_and_their_transfers():
    assert list(calendar.publication_dates(D(2024, 4, 25), D(2024, 5, 8))) == [
        D(2024, 4, 25), D(2024, 4, 26), D(2024, 4, 27),
        D(2024, 4, 28),  # set on Saturday the 27th, a working day by decree
        # none set on the 29th and 30th (days off by decree) or on 1 May
        D(2024, 5, 3), D(2024, 5, 4), D(2024, 5, 7), D(2024, 5, 8)]


@pytest.mark.parametrize(("start", "end", "expected"), [
    # "On 28 December [2024] the Bank of Russia sets the rates for 29 December to 9 January;
    # on 9 January it sets those in force from 10 January."
    (D(2024, 12, 27), D(2025, 1, 11),
     [D(2024, 12, 27), D(2024, 12, 28), D(2024, 12, 29), D(2025, 1, 10), D(2025, 1, 11)]),
    # "On 30 December [2025] ... from 31 December to 12 January; on 12 January ... from 13
    # January" (9 January 2026 is a day off by decree).
    (D(2025, 12, 30), D(2026, 1, 13), [D(2025, 12, 30), D(2025, 12, 31), D(2026, 1, 13)]),
])
def test_new_year_follows_cbr_announcements(start, end, expected):
    assert list(calendar.publication_dates(start, end)) == expected


@pytest.mark.parametrize(("day", "expected"), [
    (D(2015, 1, 1), True),   # set on Wednesday 31 December 2014, a working day
    (D(2021, 1, 1), True),   # set on Thursday 31 December 2020
    (D(2025, 1, 1), False),  # 31 December 2024 was a day off by decree
    (D(1999, 1, 6), True),   # until 2004 only 1-2 January were holidays
    (D(2006, 1, 6), False),  # since 2005, 1-8 January
])
def test_new_years_eve_and_the_january_holidays(day, expected):
    assert calendar.is_publication_date(day) is expected


def test_what_the_warehouse_observed_overrules_the_rule():
    sunday, tuesday = D(2025, 3, 30), D(2025, 4, 1)
    assert not calendar.is_publication_date(sunday)
    assert calendar.is_publication_date(sunday, observed={sunday})
    assert calendar.next_publication_after(D(2025, 3, 29), observed={sunday}) == sunday
    assert not calendar.is_publication_date(tuesday, unpublished={tuesday})
    assert calendar.latest_publication_on_or_before(tuesday, unpublished={tuesday}) == D(
        2025, 3, 29)
    assert list(calendar.publication_dates(D(2025, 3, 29), tuesday, {sunday}, {tuesday})) == [
        D(2025, 3, 29), sunday]
    # A stored rate proves publication, even on a date recorded as skipped.
    assert calendar.is_publication_date(sunday, observed={sunday}, unpublished={sunday})
