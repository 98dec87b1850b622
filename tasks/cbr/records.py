"""What the CBR parsers return: typed, `Decimal`-based records of the three documents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(slots=True)
class RateRecord:
    """One published rate, as the document states it.

    Attributes:
        rate_date: the effective date the document gives, not the date we asked for.
        cbr_id: CBR's currency ID (`R01375`); `Id`/`ID` attribute.
        char_code: ISO alpha code; None in `XML_dynamic`, which does not carry it.
        num_code: ISO numeric code zero-padded to 3; None where absent.
        nominal: units the value is quoted for.
        value: rubles per `nominal` units, exact.
        unit_rate: rubles per unit, `value / nominal`, exact.
        published_unit_rate: `VunitRate` when the document has it.
        name: the currency name in the document's language, when given.
    """

    rate_date: dt.date
    cbr_id: str
    char_code: str | None
    num_code: str | None
    nominal: int
    value: Decimal
    unit_rate: Decimal
    published_unit_rate: Decimal | None
    name: str | None


@dataclass(frozen=True)
class DirectoryEntry:
    """One `Item` of `XML_valFull.asp`."""

    cbr_id: str
    parent_id: str | None
    char_code: str | None
    num_code: str | None
    name_ru: str | None
    name_en: str | None
    nominal: int


@dataclass(frozen=True)
class BadRecord:
    """An element that could not be read as a record; it goes to quarantine."""

    element: dict[str, str | None]
    reason: str


@dataclass(frozen=True)
class DailyDocument:
    """`XML_daily.asp`: every daily-set currency on one effective date."""

    rate_date: dt.date
    records: list[RateRecord]
    bad: list[BadRecord]


@dataclass(frozen=True)
class DynamicDocument:
    """`XML_dynamic.asp`: one currency over a range of effective dates."""

    cbr_id: str
    records: list[RateRecord]
    bad: list[BadRecord]
