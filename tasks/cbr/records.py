"""What the CBR parsers return: a rate document's records as Arrow columns, directory entries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from sco_etl.schemas.rates import UNIT_RATE, VALUE
from sco_etl.schemas.table import Rejection

RECORDS = pa.schema([
    pa.field("rate_date", pa.date32(), nullable=False),
    pa.field("cbr_id", pa.string(), nullable=False),
    pa.field("char_code", pa.string()),
    pa.field("num_code", pa.string()),
    pa.field("name", pa.string()),
    pa.field("nominal", pa.int32(), nullable=False),
    pa.field("value", VALUE, nullable=False),
    pa.field("unit_rate", UNIT_RATE, nullable=False),
])
"""The records of a rate document, one row each, as the document states them.

rate_date: the effective date the document gives, not the date asked for. cbr_id: CBR's
currency ID (`R01375`). char_code, num_code (zero-padded to 3), name: what `XML_daily` says of
the currency; `XML_dynamic` says none of it. nominal: units the value is quoted for. value:
rubles per `nominal` units, exact. unit_rate: `value / nominal`, exact at 12 places (a
`VunitRate` the document gives has been checked against it).
"""


@dataclass(frozen=True)
class RateDocument:
    """One `XML_daily` or `XML_dynamic` document, read.

    Attributes:
        rate_date: `XML_daily`: the effective date of the document (`ValCurs@Date`).
        cbr_id: `XML_dynamic`: the currency ID of the document (`ValCurs@ID`).
        records: every record that could be read, in document order (`RECORDS`).
        rejected: every record that could not, as the element said it, with the reason.
    """

    rate_date: dt.date | None
    cbr_id: str | None
    records: pa.Table
    rejected: list[Rejection]


@dataclass(frozen=True)
class DirectoryEntry:
    """A CBR currency ID: a row of the `currencies` table.

    Attributes:
        cbr_id: CBR's currency ID.
        parent_id: `ParentCode`, stripped: the ID a renamed currency continues.
        char_code, num_code: ISO 4217 codes (the numeric one zero-padded); None where absent.
        name_ru, name_en: the currency's names.
        nominal: the units CBR quotes it for today.
        frequency: `daily` or `monthly`, as the directory lists it (`XML_valFull` d=0 or d=1);
            `daily` for IDs the directory omits (retired predecessors, IDs seen only in
            `XML_daily`).
        source: `directory`, `lineage` (the shipped predecessors) or `rates` (seen only in a
            rate document).
    """

    cbr_id: str
    parent_id: str | None
    char_code: str | None
    num_code: str | None
    name_ru: str | None
    name_en: str | None
    nominal: int
    frequency: str
    source: str
