"""Freshness: rates against the CBR publication calendar, news against each source's cadence."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from sco_etl.schemas import NEWS, UNPUBLISHED_DATES
from sco_etl.schemas.clock import MOSCOW
from sco_etl.schemas.errors import StaleDataError
from sco_etl.tasks.freshness import (
    SourceActivity,
    StoredRates,
    assess,
    expected_rate_date,
    news_freshness,
    rates_freshness,
)
from tests.fakes.seed import store_rates

UTC = dt.UTC
D = dt.date


def msk(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MOSCOW)


@pytest.mark.parametrize(("now", "latest", "expected", "late_since"), [
    # A Wednesday: Wednesday's rate (set on Tuesday) is current all day.
    (msk(2025, 4, 2, 12), D(2025, 4, 2), D(2025, 4, 2), None),
    # Tomorrow's rate is published at 15:30; until 19:30 today's is still enough...
    (msk(2025, 4, 1, 17), D(2025, 4, 1), D(2025, 4, 1), None),
    # ...after 19:30 tomorrow's must be there.
    (msk(2025, 4, 1, 20), D(2025, 4, 1), D(2025, 4, 2), msk(2025, 4, 1, 19, 30)),
    # Days behind: late since the first missing rate (Saturday's, set on Friday) fell due.
    (msk(2025, 4, 2, 12), D(2025, 3, 28), D(2025, 4, 2), msk(2025, 3, 28, 19, 30)),
    # Sunday and Monday: Saturday's rate is current until Tuesday's is published on Monday.
    (msk(2025, 3, 30, 12), D(2025, 3, 29), D(2025, 3, 29), None),
    (msk(2025, 3, 31, 10), D(2025, 3, 29), D(2025, 3, 29), None),
    (msk(2025, 3, 31, 20), D(2025, 3, 29), D(2025, 4, 1), msk(2025, 3, 31, 19, 30)),
    # New Year: nothing is set from 31 December to 8 January, so 31 December's rate holds...
    (msk(2026, 1, 5, 12), D(2025, 12, 31), D(2025, 12, 31), None),
    (msk(2026, 1, 9, 12), D(2025, 12, 31), D(2025, 12, 31), None),
    # ...or 30 December's, when the 30th is a Saturday (2023).
    (msk(2024, 1, 5, 12), D(2023, 12, 30), D(2023, 12, 30), None),
    # Missing 31 December is still late on 5 January.
    (msk(2026, 1, 5, 12), D(2025, 12, 30), D(2025, 12, 31), msk(2025, 12, 30, 19, 30)),
    # The first rate of the year (10 January 2024, set on the 9th) is due on the 9th.
    (msk(2024, 1, 9, 20), D(2023, 12, 30), D(2024, 1, 10), msk(2024, 1, 9, 19, 30)),
    # Nothing stored at all: late since the expected rate fell due.
    (msk(2025, 4, 2, 12), None, D(2025, 4, 2), msk(2025, 4, 1, 19, 30)),
    # Saturday 27 April 2024 was a working day by decree: its rate took effect on Sunday the
    # 28th and held through the days off (29-30 April by decree, 1 May) until 3 May.
    (msk(2024, 4, 27, 20), D(2024, 4, 27), D(2024, 4, 28), msk(2024, 4, 27, 19, 30)),
    (msk(2024, 5, 1, 12), D(2024, 4, 28), D(2024, 4, 28), None),
    (msk(2024, 5, 2, 20), D(2024, 4, 28), D(2024, 5, 3), msk(2024, 5, 2, 19, 30)),
    # New Year 2025: set on the working Saturday 28 December, in force to 9 January (30 and
    # 31 December were days off by decree).
    (msk(2024, 12, 31, 20), D(2024, 12, 29), D(2024, 12, 29), None),
    (msk(2025, 1, 5, 12), D(2024, 12, 29), D(2024, 12, 29), None),
    (msk(2025, 1, 9, 20), D(2024, 12, 29), D(2025, 1, 10), msk(2025, 1, 9, 19, 30)),
])
def test_rates_freshness_follows_the_publication_calendar(now, latest, expected, late_since):
    verdict = rates_freshness(latest, now)
    assert (verdict.expected, verdict.late_since) == (expected, late_since)
    assert verdict.is_late == (late_since is not None)


def test_a_newer_rate_than_expected_is_fresh():
    # CBR published early: tomorrow's rate is already stored at 16:00.
    assert not rates_freshness(D(2025, 4, 2), msk(2025, 4, 1, 16)).is_late


def test_the_grace_period_is_a_parameter():
    now = msk(2025, 4, 1, 17)
    assert expected_rate_date(now, dt.timedelta(hours=1)) == D(2025, 4, 2)
    assert rates_freshness(D(2025, 4, 1), now, dt.timedelta(hours=1)).late_since == msk(
        2025, 4, 1, 16, 30)


def test_the_clock_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        rates_freshness(D(2025, 4, 1), dt.datetime(2025, 4, 1, 12))


def test_the_late_message_says_what_and_since_when():
    now = msk(2025, 4, 2, 12)
    message = rates_freshness(D(2025, 3, 28), now).message(now)
    assert message == ("rates: latest effective date 2025-03-28, expected 2025-04-02 — "
                       "LATE since 2025-03-28 19:30 MSK (4 days 16 h)")


def test_news_sources_are_late_after_their_maximum_age():
    now = dt.datetime(2025, 4, 10, 12, tzinfo=UTC)
    verdicts = {v.subject: v for v in news_freshness([
        SourceActivity("https://a.example/rss", now - dt.timedelta(hours=10)),
        SourceActivity("https://b.example/rss", dt.datetime(2025, 4, 7, 9, tzinfo=UTC),
                       now - dt.timedelta(minutes=5)),
        # Items dated in the future (a zone bug) count as now, never as "fresh for days".
        SourceActivity("https://c.example/rss", now + dt.timedelta(days=5)),
    ], now)}
    assert not verdicts["news https://a.example/rss"].is_late
    late = verdicts["news https://b.example/rss"]
    # by its newest item's own time, not by when we fetched or first saw it
    assert late.late_since == dt.datetime(2025, 4, 9, 9, 0, tzinfo=UTC)
    assert "LATE since 2025-04-09 12:00 MSK" in late.message(now)
    assert verdicts["news https://c.example/rss"].latest == now


def test_a_feed_still_serving_old_items_is_late_and_one_that_always_failed_is_listed():
    """Issue 18: a feed whose latest item is from 2019 was called fresh with a 2026 time, and
    a feed that always failed had no line."""
    now = dt.datetime(2026, 11, 29, 12, tzinfo=UTC)
    old, failing = news_freshness([
        SourceActivity("old", dt.datetime(2019, 12, 17, 8, 28, tzinfo=UTC),
                       now - dt.timedelta(hours=1)),
        SourceActivity("failing", None, dt.datetime(2026, 11, 20, 9, tzinfo=UTC)),
    ], now)[::-1]
    assert old.message(now) == ("news old: latest item 2019-12-17 11:28 MSK — LATE since "
                                "2019-12-19 11:28 MSK (2537 days 3 h)")
    assert failing.message(now) == ("news failing: no items stored — LATE since "
                                    "2026-11-20 12:00 MSK (9 days 3 h)")


def test_the_report_summary_lists_only_what_is_late():
    now = msk(2025, 4, 2, 12)
    report = assess(StoredRates(D(2025, 4, 2)),
                    [SourceActivity("feed", None, now - dt.timedelta(days=3))], now)
    assert len(report.late) == 1
    assert report.summary().startswith("late data: news feed: no items stored — LATE since ")
    assert "rates:" not in report.summary()
    assert assess(StoredRates(D(2025, 4, 2)), [], now).summary() == "all 1 datasets are fresh"


def test_a_stored_date_the_rule_does_not_expect_is_a_publication():
    # As if a decree the calendar does not know made Saturday 29 March 2025 a working day.
    sunday = D(2025, 3, 30)
    verdict = rates_freshness(sunday, msk(2025, 3, 31, 12), published={sunday})
    assert (verdict.expected, verdict.late_since) == (sunday, None)
    # Tuesday's rate, set on Monday, is still due as usual.
    verdict = rates_freshness(sunday, msk(2025, 3, 31, 20), published={sunday})
    assert (verdict.expected, verdict.late_since) == (D(2025, 4, 1), msk(2025, 3, 31, 19, 30))


def test_a_date_cbr_confirmed_unpublished_is_not_expected():
    # As if a decree the calendar does not know made Monday 31 March 2025 a day off.
    now = msk(2025, 4, 1, 12)
    assert rates_freshness(D(2025, 3, 29), now).late_since == msk(2025, 3, 31, 19, 30)
    verdict = rates_freshness(D(2025, 3, 29), now, unpublished={D(2025, 4, 1)})
    assert (verdict.expected, verdict.late_since) == (D(2025, 3, 29), None)
    # Late again once Wednesday's rate, set on Tuesday, falls due and is not there.
    verdict = rates_freshness(D(2025, 3, 29), msk(2025, 4, 1, 20), unpublished={D(2025, 4, 1)})
    assert (verdict.expected, verdict.late_since) == (D(2025, 4, 2), msk(2025, 4, 1, 19, 30))


# --- the flow, against a warehouse -----------------------------------------------------------

def test_check_freshness_fails_with_a_clear_message_on_a_stale_warehouse(
    prefect_harness, warehouse,
):
    from sco_etl.flows.freshness import check_freshness

    store_rates(warehouse, D(2025, 3, 27), D(2025, 3, 28))
    with pytest.raises(StaleDataError) as raised:
        check_freshness(data_dir=str(warehouse.root), now=msk(2025, 4, 2, 12))
    assert str(raised.value).startswith(
        "late data: rates: latest effective date 2025-03-28, expected 2025-04-02 — "
        "LATE since 2025-03-28 19:30 MSK")
    state = check_freshness(data_dir=str(warehouse.root), now=msk(2025, 4, 2, 12),
                            return_state=True)
    assert state.is_failed()
    assert "LATE since 2025-03-28 19:30 MSK" in state.message


def test_check_freshness_passes_on_a_fresh_warehouse(prefect_harness, warehouse):
    from sco_etl.flows.freshness import check_freshness

    store_rates(warehouse, D(2025, 12, 30), D(2025, 12, 31))
    result = check_freshness(data_dir=str(warehouse.root), now=msk(2026, 1, 5, 12))
    assert result == {"rates": "rates: latest effective date 2025-12-31, expected 2025-12-31 "
                               "— fresh"}


def test_check_freshness_passes_over_days_off_moved_by_decree(prefect_harness, warehouse):
    from sco_etl.flows.freshness import check_freshness

    store_rates(warehouse, D(2024, 12, 27), D(2024, 12, 28), D(2024, 12, 29))
    result = check_freshness(data_dir=str(warehouse.root), now=msk(2025, 1, 5, 12))
    assert result == {"rates": "rates: latest effective date 2024-12-29, expected 2024-12-29 "
                               "— fresh"}


def test_check_freshness_takes_the_calendar_from_the_warehouse(prefect_harness, warehouse):
    from sco_etl.flows.freshness import check_freshness

    # Sunday 30 March 2025 holds a daily rate, and CBR answered a request for Tuesday 1 April
    # with it: as if a decree made Saturday a working day and Monday a day off.
    store_rates(warehouse, D(2025, 3, 28), D(2025, 3, 29), D(2025, 3, 30))
    unpublished = {"rate_date": D(2025, 4, 1), "in_force_date": D(2025, 3, 30),
                   "checked_at": dt.datetime(2025, 4, 1, 8, tzinfo=UTC), "run_id": "test"}
    with warehouse.write() as writer:
        writer.append(UNPUBLISHED_DATES, pa.Table.from_pylist(
            [unpublished], schema=UNPUBLISHED_DATES.arrow_schema))
    result = check_freshness(data_dir=str(warehouse.root), now=msk(2025, 4, 1, 12))
    assert result == {"rates": "rates: latest effective date 2025-03-30, expected 2025-03-30 "
                               "— fresh"}


def test_only_daily_set_currencies_show_the_calendar(warehouse):
    from sco_etl.warehouse.reports import stored_rates

    store_rates(warehouse, D(2025, 3, 29))
    store_rates(warehouse, D(2025, 3, 30), frequency="monthly")
    assert stored_rates(warehouse) == {"latest": D(2025, 3, 30),
                                       "published": frozenset({D(2025, 3, 29)}),
                                       "unpublished": frozenset()}


def test_check_freshness_names_a_silent_news_source(prefect_harness, warehouse):
    from sco_etl.flows.freshness import check_freshness

    store_rates(warehouse, D(2025, 4, 2))
    seen = dt.datetime(2025, 3, 30, 8, tzinfo=UTC)
    row = {c.name: None for c in NEWS.columns} | {
        "item_id": "0" * 32, "source": "https://www.infoshos.ru/rss/rss_en.xml",
        "url": "https://infoshos.ru/en/?idn=1", "link": "http://www.infoshos.ru/en/?idn=1",
        "title": "SCO news", "published_at": seen, "published_at_source": "feed",
        "article_attempts": 0, "content_hash": "x", "first_seen_at": seen,
        "updated_at": seen, "run_id": "test"}
    with warehouse.write() as writer:
        writer.upsert(NEWS, pa.Table.from_pylist([row], schema=NEWS.arrow_schema))
    with pytest.raises(StaleDataError, match=r"news https://www\.infoshos\.ru/rss/rss_en\.xml: "
                                             r"latest item 2025-03-30 11:00 MSK — LATE since "
                                             r"2025-04-01 11:00 MSK"):
        check_freshness(data_dir=str(warehouse.root), now=msk(2025, 4, 2, 12))
