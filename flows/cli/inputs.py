"""Command-line values, read and checked before anything starts.

A value a command cannot use is refused here, with one line that names it and what would be
valid (`InputError`: exit status 2) — before a log file, a Prefect import or a server start,
and before the warehouse is touched beyond reading what the check needs (its currency
directory, its first snapshot). CBR's series start on 1 July 1992 and its latest rates are
tomorrow's (Moscow), so dates outside those bounds ask for something no source has.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sco_etl.schemas.checks import FIRST_RATE_DATE, ISO_ALPHA_CODE
from sco_etl.schemas.clock import moscow_tomorrow, utc_now
from sco_etl.schemas.errors import InputError, NoWarehouseError
from sco_etl.schemas.reference import default_sco_currency_codes

if TYPE_CHECKING:
    from sco_etl.warehouse import Warehouse


def day(value: str | None, option: str) -> dt.date | None:
    """A `YYYY-MM-DD` date from 1 July 1992 to tomorrow (Moscow), or None when not given."""
    if value is None:
        return None
    last = moscow_tomorrow()
    valid = f"from {FIRST_RATE_DATE} to {last} (tomorrow, Moscow)"
    try:
        parsed = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date: give YYYY-MM-DD, {valid}"
                         ) from None
    if parsed < FIRST_RATE_DATE:
        raise InputError(f"{option} {parsed} is before CBR's first rates: give a date {valid}")
    if parsed > last:
        raise InputError(f"{option} {parsed} is after the latest rates CBR can have published: "
                         f"give a date {valid}")
    return parsed


def period(start: str | None, end: str | None) -> tuple[dt.date | None, dt.date | None]:
    """`--start` and `--end`, each a `day`, the start not after the end."""
    first, last = day(start, "--start"), day(end, "--end")
    if first and last and first > last:
        raise InputError(f"--start {first} is after --end {last}: give a start on or before "
                         "the end")
    return first, last


def moment(value: str | None, option: str) -> dt.datetime | None:
    """An ISO time, zone-aware (without a zone: UTC), or None when not given."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option} {value!r} is not a time: give an ISO time like "
                         "2025-04-01T18:00+03:00 (without a zone: UTC)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def known_at(value: str | None, warehouse: Warehouse) -> str | None:
    """`--known-at`: a moment from the warehouse's first snapshot to now, as DuckLake's
    SNAPSHOT_TIME wants it (ISO, UTC); None when not given. Without a warehouse to travel
    in: NoWarehouseError."""
    from sco_etl.warehouse.api import first_snapshot_time

    parsed = moment(value, "--known-at")
    if parsed is None:
        return None
    first, now = first_snapshot_time(warehouse), utc_now()
    earliest = first.replace(microsecond=0) + dt.timedelta(seconds=1 if first.microsecond else 0)
    valid = f"give a moment from {_shown(earliest)} (its first snapshot) to now ({_shown(now)})"
    if parsed < first:
        raise InputError(f"--known-at {_shown(parsed)} is before the warehouse's first "
                         f"snapshot: {valid}")
    if parsed > now:
        raise InputError(f"--known-at {_shown(parsed)} is in the future: {valid}")
    return parsed.isoformat()


def currency_codes(value: str | None, warehouse: Warehouse | None) -> list[str] | None:
    """`--currencies CNY,KZT`: codes of the shipped SCO set or, when a warehouse exists, of
    the CBR directory it stores; upper-cased, in the order given. None when not given."""
    if value is None:
        return None
    codes = list(dict.fromkeys(code.strip().upper() for code in value.split(",")
                               if code.strip()))
    if not codes:
        raise InputError(f"--currencies {value!r} names no currency: give ISO codes like "
                         "CNY,KZT")
    malformed = [code for code in codes if not ISO_ALPHA_CODE.fullmatch(code)]
    if malformed:
        raise InputError(f"--currencies {','.join(malformed)}: not ISO 4217 alpha codes "
                         "(three letters, e.g. CNY,KZT)")
    sco = default_sco_currency_codes()
    unknown = [code for code in codes if code not in sco]
    directory: list[str] = []
    if unknown and warehouse is not None:
        directory = _directory_codes(warehouse)
        unknown = [code for code in unknown if code not in directory]
    if unknown:
        where = (" or a code of the stored CBR directory (`sco-etl query \"SELECT char_code, "
                 "name_en FROM currencies\"` lists them)" if directory else "")
        raise InputError(f"--currencies {','.join(unknown)}: unknown currency "
                         f"code{'s' if len(unknown) > 1 else ''}: give an SCO currency "
                         f"({', '.join(sco)}){where}")
    return codes


def _directory_codes(warehouse: Warehouse) -> list[str]:
    from sco_etl.schemas import CURRENCIES

    try:
        return [code for code in warehouse.distinct(CURRENCIES, "char_code") if code]
    except NoWarehouseError:
        return []


def search_words(query: str) -> str:
    """The words of `news search`, which must hold at least one letter or digit."""
    if not any(character.isalnum() for character in query):
        raise InputError(f"news search {query!r} holds no word to look for: give one or more "
                         "words, e.g. sco-etl news search \"Kazakhstan\"")
    return query


def feed_urls(values: list[str] | None) -> list[str] | None:
    """`--feed`: http(s) URLs of feeds or listing pages."""
    for url in values or []:
        if not url.strip().lower().startswith(("http://", "https://")):
            raise InputError(f"--feed {url!r} is not an http(s) URL: give the address of a "
                             "feed or listing page, e.g. https://example.org/rss.xml")
    return values


def table_name(value: str | None) -> str | None:
    """`changes --table`: one of the warehouse's tables."""
    from sco_etl.warehouse.ddl import BASE_TABLES

    names = [table.name for table in BASE_TABLES]
    if value is not None and value not in names:
        raise InputError(f"--table {value!r} is not a table of the warehouse: give one of "
                         f"{', '.join(names)}")
    return value


def _shown(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")
