"""Reusable column checks shared by several table declarations."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd
import pandera.pandas as pa_checks

MOSCOW = ZoneInfo("Europe/Moscow")
FIRST_RATE_DATE = dt.date(1992, 7, 1)
"""The first date of the CBR official rate series."""

CBR_ID = pa_checks.Check.str_matches(r"^R\d{5}[A-Z]?$", name="cbr_id_format")
ISO_ALPHA = pa_checks.Check.str_matches(r"^[A-Z]{3}$", name="iso_alpha_code")
ISO_NUMERIC = pa_checks.Check.str_matches(r"^\d{3}$", name="iso_numeric_code")
POSITIVE = pa_checks.Check.gt(0, name="positive")
FREQUENCY = pa_checks.Check.isin(["daily", "monthly"], name="frequency")


def tomorrow_in_moscow() -> dt.date:
    """CBR publishes tomorrow's rates today, so tomorrow (Moscow) is the latest valid date."""
    return dt.datetime.now(MOSCOW).date() + dt.timedelta(days=1)


def _rate_date_in_range(series: pd.Series) -> pd.Series:
    # The bound moves with the clock, so it is computed when the check runs.
    return (series >= FIRST_RATE_DATE) & (series <= tomorrow_in_moscow())


RATE_DATE_RANGE = pa_checks.Check(_rate_date_in_range, name="date_from_1992_07_01_to_tomorrow")


def no_control_characters(series: pd.Series) -> pd.Series:
    return ~series.str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", regex=True)


PLAIN_TEXT = pa_checks.Check(no_control_characters, name="no_control_characters")
