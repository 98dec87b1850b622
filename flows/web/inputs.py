"""The request parameters of the web app, checked: a bad one is a 422 naming it and its range."""

from __future__ import annotations

import datetime as dt
import re

from sco_etl.schemas.checks import FIRST_RATE_DATE
from sco_etl.schemas.clock import moscow_tomorrow
from sco_etl.schemas.reference import BASE_CURRENCY

FORMATS = ("json", "csv", "ndjson")
COUNTRY = re.compile(r"^[A-Z]{2}$")
ITEM_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_LIMIT = 1000


class BadParameter(ValueError):
    """A request parameter out of its range: answered 422 with the parameter and the range."""

    def __init__(self, parameter: str, message: str, valid: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.valid = valid


def rate_date(value: str | None, parameter: str) -> dt.date | None:
    """A `YYYY-MM-DD` date from 1 July 1992 (the CBR series) to tomorrow (Moscow)."""
    if value is None or value == "":
        return None
    latest = moscow_tomorrow()
    valid = f"a YYYY-MM-DD date from {FIRST_RATE_DATE} to {latest}"
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise BadParameter(parameter, f"{parameter}={value!r} is not a date", valid) from None
    if not FIRST_RATE_DATE <= day <= latest:
        raise BadParameter(parameter, f"{parameter}={value} is outside the rates' range", valid)
    return day


def date_range(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    """`from`..`to`, defaulting to the whole series, in order."""
    first = rate_date(start, "from") or FIRST_RATE_DATE
    last = rate_date(end, "to") or moscow_tomorrow()
    if first > last:
        raise BadParameter("from", f"from={first} is after to={last}",
                           "from on or before to")
    return first, last


def moment(value: str | None, parameter: str) -> dt.datetime | None:
    """An ISO date or time (a bare time is UTC, a bare date Moscow midnight)."""
    if value is None or value == "":
        return None
    valid = "an ISO 8601 date or time, e.g. 2025-04-01 or 2025-04-01T18:00+03:00"
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(parameter, f"{parameter}={value!r} is not a date or time",
                           valid) from None
    if len(value) == 10:  # a day: its start in Moscow, like the headlines' times
        from sco_etl.schemas.clock import MOSCOW

        return parsed.replace(tzinfo=MOSCOW)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def codes(value: str | None, known: set[str]) -> list[str] | None:
    """Comma-separated ISO 4217 codes the warehouse quotes; None: every SCO currency."""
    if value is None or not value.strip():
        return None
    wanted = [code.strip().upper() for code in value.split(",") if code.strip()]
    unknown = [code for code in wanted if code not in known]
    if unknown:
        raise BadParameter("codes", f"unknown currency code: {', '.join(unknown)}",
                           "ISO codes of the warehouse's currencies: " + ",".join(sorted(known)))
    return wanted


def code(value: str | None, parameter: str, known: set[str]) -> str:
    """One ISO 4217 code the warehouse quotes, or RUB."""
    wanted = (value or "").strip().upper()
    if wanted != BASE_CURRENCY and wanted not in known:
        raise BadParameter(parameter, f"{parameter}={value!r} is not a currency of the warehouse",
                           "RUB or one of " + ",".join(sorted(known)))
    return wanted


def output_format(value: str | None) -> str:
    wanted = (value or "json").lower()
    if wanted not in FORMATS:
        raise BadParameter("format", f"format={value!r} is not offered", "json, csv or ndjson")
    return wanted


def limit(value: int | None, default: int = 20) -> int:
    if value is None:
        return default
    if not 1 <= value <= MAX_LIMIT:
        raise BadParameter("limit", f"limit={value} is out of range", f"1 to {MAX_LIMIT}")
    return value


def country(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    wanted = value.strip().upper()
    if not COUNTRY.match(wanted):
        raise BadParameter("country", f"country={value!r} is not an ISO 3166 alpha-2 code",
                           "two letters, e.g. KZ")
    return wanted


def item_id(value: str) -> str:
    if not ITEM_ID.match(value):
        raise BadParameter("item_id", f"{value!r} is not a news item id",
                           "32 hexadecimal digits, as `item_id` in /api/v1/news")
    return value
