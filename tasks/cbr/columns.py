"""A clean `XML_dynamic` document read as Arrow columns, and the `rates` rows built from them.

A full backfill is ~90,000 records in ~30 `XML_dynamic` documents; a Python object per record
costs about a second of CPU. Here lxml's XPath reads each field of every record as one list
(in C) and pyarrow.compute turns the lists into typed columns, exactly: decimal strings are
cast to Arrow decimals, which refuse rather than round a value with more places than the
scale. Anything out of the ordinary gives None, and the caller reads the document record by
record instead (`tasks.cbr.parse.parse_dynamic`), which says what is wrong with each record.
The two readings give equal rows for a clean document (tests/unit/test_cbr_columns.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree
from lxml.etree import _Element as Element

from sco_etl.schemas import RATES
from sco_etl.schemas.rates import UNIT_RATE, VALUE
from sco_etl.tasks.cbr.settings import CBR_DOCUMENT_DATE_FORMAT

if TYPE_CHECKING:
    from sco_etl.tasks.run import Run

# CBR quotes per 1, 10, 100, ... 1,000,000 units. For a nominal of 10**k with k <= 8, a value
# exact at 4 places divided by the nominal is exact at 4 + k <= 12 places, the unit rate's
# scale: multiplying by 10**-k is the division with nothing to round. Any other nominal (3,
# 10**9, "010", " 10") is left to the careful reading and its Decimal division.
_POWERS = range(9)
_NOMINAL_TEXTS = pa.array([str(10**k) for k in _POWERS])
_NOMINALS = pa.array([10**k for k in _POWERS], pa.int32())
_UNIT_FACTORS = pa.array([Decimal(1).scaleb(-k) for k in _POWERS], pa.decimal128(9, 8))

_COUNT = etree.XPath("count(Record)")
# A record the columns below would misalign or misread: a field missing or given twice, a
# field with no text or with its text split around a child, a field CBR does not send.
_IRREGULAR = etree.XPath(
    "count(Record[count(*) != count(Nominal | Value | VunitRate)"
    " or count(Nominal) != 1 or count(Value) != 1 or count(VunitRate) > 1"
    " or count(Nominal/text()) != 1 or count(Value/text()) != 1"
    " or count(VunitRate/text()) != count(VunitRate)])"
)
# Older records may lack VunitRate (CBR added it later): the records that have it must be a
# tail of the document, so that the i-th VunitRate belongs to the (first + i)-th record.
_FIRST_WITH_VUNIT = etree.XPath("count(Record[VunitRate][1]/preceding-sibling::Record)")
_DATES, _IDS, _NOMINAL_COLUMN, _VALUES, _VUNITS = (
    etree.XPath(f"Record/{path}", smart_strings=False)
    for path in ("@Date", "@Id", "Nominal/text()", "Value/text()", "VunitRate/text()")
)


@dataclass(frozen=True)
class DynamicColumns:
    """The records of one clean `XML_dynamic` document, a column per field.

    Attributes:
        cbr_id: the document's currency ID; every record carries this one.
        rate_date: effective dates, date32.
        nominal: units each value is quoted for, int32, a power of ten.
        value: rubles per `nominal` units, exact, `VALUE` (decimal128(18, 4)).
        unit_rate: rubles per unit, value / nominal, exact, `UNIT_RATE` (decimal128(38, 12)).
    """

    cbr_id: str
    rate_date: pa.Array
    nominal: pa.Array
    value: pa.Array
    unit_rate: pa.Array

    def __len__(self) -> int:
        return len(self.rate_date)


def read_columns(root: Element, cbr_id: str) -> DynamicColumns | None:
    """The records under a `ValCurs` root as columns; None when any record is not clean."""
    count = int(_COUNT(root))
    if _IRREGULAR(root):
        return None
    dates, ids, nominals, values, vunits = (
        pa.array(select(root), pa.string())
        for select in (_DATES, _IDS, _NOMINAL_COLUMN, _VALUES, _VUNITS)
    )
    if len(dates) != count or len(ids) != count or not _all(pc.equal(ids, cbr_id)):
        return None
    powers = pc.index_in(nominals, value_set=_NOMINAL_TEXTS)
    if powers.null_count:
        return None
    try:
        rate_date = _dates(dates)
        value = pc.cast(_decimal_text(values), VALUE)
        unit_rate = pc.cast(pc.multiply(value, _UNIT_FACTORS.take(powers)), UNIT_RATE)
        published = pc.cast(_decimal_text(vunits), UNIT_RATE)
    except pa.ArrowInvalid:
        return None  # a value not exact at its scale, or not a number: the careful path says
    if rate_date is None or not _published_agrees(published, unit_rate, root):
        return None
    return DynamicColumns(cbr_id, rate_date, _NOMINALS.take(powers), value, unit_rate)


def rates_table(
    columns: DynamicColumns, currency: dict[str, Any], run: Run,
) -> pa.Table | None:
    """`rates` rows of one document's columns: the per-currency fields repeat down the rows.

    `currency` is the directory row of `columns.cbr_id`. The fields mirror the careful path's
    row (`tasks.cbr.extract._row`) of a record without char or numeric code, which is what
    `XML_dynamic` gives. Returns None when a directory field cannot be typed (the careful path
    then rejects each row with the reason).
    """
    constants = {
        "cbr_id": columns.cbr_id,
        "char_code": currency["char_code"],
        "num_code": currency.get("num_code"),
        "frequency": currency.get("frequency", "daily"),
        # One timestamp per run: shares parsed apart must give one key the same row.
        "loaded_at": run.started_at,
        "run_id": run.run_id,
    }
    measured = {"rate_date": columns.rate_date, "nominal": columns.nominal,
                "value": columns.value, "unit_rate": columns.unit_rate}
    try:
        arrays = [
            measured[c.name] if c.name in measured
            else pa.repeat(pa.scalar(constants[c.name], c.type), len(columns))
            for c in RATES.columns
        ]
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    return pa.Table.from_arrays(arrays, schema=RATES.arrow_schema)


def _dates(texts: pa.Array) -> pa.Array | None:
    """`dd.mm.yyyy` to date32; None unless every text is exactly a real date so written.

    Arrow's strptime rolls 31.02.2025 over into March and allows a leading space, so each
    date is written back and compared with its text.
    """
    parsed = pc.strptime(texts, format=CBR_DOCUMENT_DATE_FORMAT, unit="s", error_is_null=True)
    written_back = pc.strftime(parsed, format=CBR_DOCUMENT_DATE_FORMAT)
    if parsed.null_count or not _all(pc.equal(written_back, texts)):
        return None
    return pc.cast(parsed, pa.date32())


def _decimal_text(texts: pa.Array) -> pa.Array:
    # As `parse_decimal`: CBR writes `1 234,5678` (a space or a no-break space groups digits).
    for old, new in ((" ", ""), ("\xa0", ""), (",", ".")):
        texts = pc.replace_substring(texts, old, new)
    return texts


def _published_agrees(published: pa.Array, unit_rate: pa.Array, root: Element) -> bool:
    """Whether every VunitRate given equals value / nominal (Arrow decimals compare exactly)."""
    if not len(published):
        return True
    first = int(_FIRST_WITH_VUNIT(root))
    if len(published) != len(unit_rate) - first:
        return False
    return _all(pc.equal(published, unit_rate.slice(first)))


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask, min_count=0).as_py())
