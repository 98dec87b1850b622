"""Pure parsers for the three CBR documents: bytes in, Arrow columns (or entries) out.

One reading per document, no I/O, no logging. Bytes are parsed as XML with their declared
encoding (windows-1251). CBR documents never carry a DTD, so any document type declaration is
refused outright: no entity expansion (billion laughs), no external entity, no DTD fetch.

A rate document is read in one pass over its elements that collects each field's text; the
texts then become typed columns at once (pyarrow.compute), which is what keeps a full history
(~100,000 records) well under a second. Where a column holds a text that the vectorised
conversion refuses, each of its texts is read on its own, so that every record that cannot be
read is rejected with its reason and the rest go on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation, localcontext

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree
from lxml.etree import _Element as Element

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.schemas.rates import UNIT_RATE, VALUE
from sco_etl.schemas.table import Rejection
from sco_etl.tasks.cbr.records import RECORDS, DirectoryEntry, RateDocument
from sco_etl.tasks.cbr.settings import CBR_DOCUMENT_DATE_FORMAT

UNIT_RATE_PLACES = Decimal("1e-12")
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
    remove_comments=True, remove_pis=True,
)
_FIELDS = ("Nominal", "Value", "VunitRate", "CharCode", "NumCode", "Name")
"""The child elements of a `Valute` (XML_daily) or `Record` (XML_dynamic) that are read."""
_INTEGER = re.compile(r"-?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_WHOLE_NUMBER = f"^(?:{_NUMBER.pattern})$"
# CBR quotes per 1, 10, 100, ... units. For a nominal of 10**k with k <= 8, a value exact at 4
# places divided by it is exact at 4 + k <= 12 places, the unit rate's scale: multiplying by
# 10**-k is the division with nothing to round. Other nominals divide as Decimals.
_POWERS = range(9)
_NOMINAL_POWERS = pa.array([10**k for k in _POWERS], pa.int64())
_UNIT_FACTORS = pa.array([Decimal(1).scaleb(-k) for k in _POWERS], pa.decimal128(9, 8))


def parse_daily(data: bytes) -> RateDocument:
    """Parse `XML_daily.asp` bytes: every currency CBR set on one effective date.

    Raises:
        SourceFormatError: not a well-formed `ValCurs` with a `Date` and at least one `Valute`.
    """
    root = _root(data, "ValCurs", "XML_daily")
    rate_date = _date(root.get("Date"), "ValCurs@Date")
    valutes = root.findall("Valute")
    if not valutes:
        raise SourceFormatError(
            f"XML_daily for {rate_date} holds no Valute element; an empty day is never valid")
    records, rejected = _read(valutes, [element.get("ID") for element in valutes], dates=None,
                              rate_date=rate_date)
    return RateDocument(rate_date, None, records, rejected)


def parse_dynamic(data: bytes) -> RateDocument:
    """Parse `XML_dynamic.asp` bytes: one currency over a range; unquoted, no records.

    Raises:
        SourceFormatError: not a well-formed `ValCurs` with an `ID` and a date range.
    """
    root = _root(data, "ValCurs", "XML_dynamic")
    cbr_id = (root.get("ID") or "").strip()
    if not cbr_id or root.get("DateRange1") is None:
        raise SourceFormatError("XML_dynamic: ValCurs lacks its ID or DateRange1 attribute")
    elements = root.findall("Record")
    records, rejected = _read(
        elements, [element.get("Id") or element.get("ID") or cbr_id for element in elements],
        dates=[element.get("Date") for element in elements], rate_date=None)
    return RateDocument(None, cbr_id, records, rejected)


def parse_directory(data: bytes, frequency: str) -> list[DirectoryEntry]:
    """Parse `XML_valFull.asp` bytes: the IDs set `daily` (d=0) or `monthly` (d=1).

    Raises:
        SourceFormatError: not a well-formed `Valuta` document with `Item` elements.
    """
    root = _root(data, "Valuta", "XML_valFull")
    items = root.findall("Item")
    if not items:
        raise SourceFormatError("XML_valFull holds no Item element")
    entries = []
    for item in items:
        cbr_id = (item.get("ID") or "").strip()
        if not cbr_id:
            continue
        fields = {child.tag: _stripped(child.text) for child in item}
        nominal = fields.get("Nominal")
        entries.append(DirectoryEntry(
            cbr_id=cbr_id,
            # ParentCode is right-padded with spaces in the service's output.
            parent_id=fields.get("ParentCode"),
            char_code=fields.get("ISO_Char_Code"),
            num_code=_num_code(fields.get("ISO_Num_Code")),
            name_ru=fields.get("Name"),
            name_en=fields.get("EngName"),
            nominal=int(nominal) if nominal and nominal.isdigit() else 1,
            frequency=frequency,
            source="directory",
        ))
    return entries


def parse_decimal(text: str | None, field: str = "number") -> Decimal:
    """`'1 234,5678'` or `'2,22616E-05'` to an exact Decimal.

    Raises:
        ValueError: with a sentence naming `field`: missing, not a number, not finite.
    """
    if text is None or not text.strip():
        raise ValueError(f"{field} is missing")
    cleaned = text.strip().replace("\xa0", "").replace(" ", "").replace(",", ".")
    if cleaned.lower() in ("nan", "snan", "inf", "infinity", "+inf", "-inf", "+infinity",
                           "-infinity"):
        raise ValueError(f'{field} "{text.strip()}" is not a finite number')
    if not _NUMBER.fullmatch(cleaned):
        raise ValueError(f'{field} "{text.strip()}" is not a number')
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f'{field} "{text.strip()}" is not a number') from None


def _root(data: bytes, expected: str, document: str) -> Element:
    if not data or not data.strip():
        raise SourceFormatError(f"{document}: empty response body")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError, LookupError) as e:
        raise SourceFormatError(f"{document}: not a well-formed XML document ({e})") from e
    if root.getroottree().docinfo.doctype:
        raise SourceFormatError(
            f"{document}: refused a document type declaration (DTD); CBR documents have none"
        )
    if root.tag != expected:
        raise SourceFormatError(f"{document}: root element is <{root.tag}>, expected <{expected}>")
    return root


def _read(elements: Sequence[Element], ids: list[str | None], dates: list[str | None] | None,
          rate_date: dt.date | None) -> tuple[pa.Table, list[Rejection]]:
    """The records of `elements` as `RECORDS` columns, and the ones that cannot be read.

    `ids` are the records' currency IDs; each record's effective date is its text in `dates`
    (XML_dynamic) or `rate_date` (XML_daily).
    """
    count = len(elements)
    texts = {name: [None] * count for name in _FIELDS}
    reasons: dict[int, str] = {}
    for index, element in enumerate(elements):
        for child in element:
            column = texts.get(child.tag)
            if column is None:
                continue
            if column[index] is not None:
                # Two <Value> in one record: which did the source mean? Never the last one.
                reasons.setdefault(index, f"duplicated element <{child.tag}>")
            column[index] = child.text or ""  # "" is there but empty, None is not there
    cbr_ids = pc.utf8_trim_whitespace(pa.array(ids, pa.string()))
    for index in pc.indices_nonzero(pc.fill_null(pc.equal(cbr_ids, ""), True)).to_pylist():
        reasons[index] = "no currency ID"
    if dates is None:
        rate_dates = pa.repeat(pa.scalar(rate_date, pa.date32()), count)
    else:
        rate_dates = _column(dates, _dates, _date, "Record@Date", reasons)
    nominal = _column(texts["Nominal"], _integers, _integer_of, "Nominal", reasons)
    value = _column(texts["Value"], _values, _value_of, "Value", reasons)
    unit_rate = _unit_rates(nominal, value)
    _check_published(texts["VunitRate"], unit_rate, reasons)
    columns = {"rate_date": rate_dates, "cbr_id": cbr_ids, "nominal": nominal, "value": value,
               "unit_rate": unit_rate, "char_code": _strings(texts["CharCode"]),
               "num_code": _strings(texts["NumCode"], _num_code), "name": _strings(texts["Name"])}
    rejected = [Rejection(_describe(elements[index]), reason)
                for index, reason in sorted(reasons.items())]
    records = pa.Table.from_arrays([columns[f.name] for f in RECORDS], names=RECORDS.names)
    if reasons:
        keep = pc.invert(pc.is_in(pa.array(range(count), pa.int64()),
                                  value_set=pa.array(sorted(reasons), pa.int64())))
        records = records.filter(keep)
    return records.cast(RECORDS), rejected


def _strings(texts: list[str | None], shape: Callable[[str | None], str | None] | None = None,
             ) -> pa.Array:
    """Texts stripped, empty ones null (`XML_dynamic` has none of these fields: all null)."""
    if not any(texts):
        return pa.nulls(len(texts), pa.string())
    stripped = [_stripped(text) for text in texts]
    return pa.array([shape(t) for t in stripped] if shape else stripped, pa.string())


def _column(texts: list[str | None], convert: Callable[[pa.Array], pa.Array],
            one: Callable[[str | None, str], object], field: str,
            reasons: dict[int, str]) -> pa.Array:
    """`texts` converted at once by `convert`; if that refuses any, one by one by `one`,
    which says why it cannot read a text (ValueError, SourceFormatError): that record is
    rejected with the reason, and its field is null."""
    try:
        return convert(pa.array(texts, pa.string()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    typed: list[object] = []
    for index, text in enumerate(texts):
        try:
            typed.append(one(text, field))
        except (ValueError, SourceFormatError) as e:
            reasons.setdefault(index, str(e))
            typed.append(None)
    return convert(pa.array(typed))


def _dates(texts: pa.Array) -> pa.Array:
    if pa.types.is_date32(texts.type) or pa.types.is_null(texts.type):
        return pc.cast(texts, pa.date32())
    # Arrow's strptime rolls 31.02.2025 into March and allows a leading space: each date is
    # written back and compared with its text, and any difference is read one by one.
    parsed = pc.strptime(texts, format=CBR_DOCUMENT_DATE_FORMAT, unit="s", error_is_null=True)
    written_back = pc.strftime(parsed, format=CBR_DOCUMENT_DATE_FORMAT)
    if parsed.null_count or not _all(pc.equal(written_back, texts)):
        raise pa.ArrowInvalid("not every date is dd.mm.yyyy")
    return pc.cast(parsed, pa.date32())


def _integers(texts: pa.Array) -> pa.Array:
    if pa.types.is_integer(texts.type) or pa.types.is_null(texts.type):
        return pc.cast(texts, pa.int32())
    trimmed = pc.utf8_trim_whitespace(texts)
    if texts.null_count or not _all(pc.match_substring_regex(trimmed, r"^-?\d+$")):
        raise pa.ArrowInvalid("not every nominal is an integer")
    return pc.cast(trimmed, pa.int32())


def _integer_of(text: str | None, field: str) -> int:
    text = _stripped(text)
    if text is None or not _INTEGER.fullmatch(text):
        raise ValueError(f'{field} "{text}" is not an integer' if text else f"{field} is missing")
    number = int(text)
    if not -2**31 <= number < 2**31:
        raise ValueError(f"{field} {number} is too large")
    return number


def _values(texts: pa.Array) -> pa.Array:
    if pa.types.is_decimal(texts.type) or pa.types.is_null(texts.type):
        return pc.cast(texts, VALUE)
    texts = pc.utf8_trim_whitespace(_cleaned(texts))
    if texts.null_count or not _all(pc.match_substring_regex(texts, _WHOLE_NUMBER)):
        raise pa.ArrowInvalid("not every value is a number")
    return pc.cast(texts, VALUE)  # refuses, rather than rounds, what does not fit exactly


def _value_of(text: str | None, field: str) -> Decimal:
    number = parse_decimal(text, field)
    if number and number.adjusted() >= 14:
        raise ValueError(f"{field} {text.strip()} is too large")
    if number.as_tuple().exponent < -4 and number != number.quantize(Decimal("1e-4")):
        raise ValueError(f"{field} {text.strip()} has more than four decimal places")
    return number


def _unit_rates(nominal: pa.Array, value: pa.Array) -> pa.Array:
    """`value / nominal` at the unit rate's scale: exact for a power-of-ten nominal."""
    powers = pc.index_in(pc.cast(nominal, pa.int64()), value_set=_NOMINAL_POWERS)
    if not powers.null_count:
        return pc.cast(pc.multiply(value, _UNIT_FACTORS.take(powers)), UNIT_RATE)
    rates = []
    with localcontext() as context:
        context.prec = 50
        for units, amount in zip(nominal.to_pylist(), value.to_pylist(), strict=True):
            if units is None or amount is None:
                rates.append(None)
            else:  # a nominal of 0 is the schema's to reject; its unit rate is the value
                rates.append((amount / units).quantize(UNIT_RATE_PLACES) if units else amount)
    return pa.array(rates, UNIT_RATE)


def _check_published(texts: list[str | None], unit_rate: pa.Array,
                     reasons: dict[int, str]) -> None:
    """Each `VunitRate` given must equal value / nominal; a record where it does not is
    rejected (Arrow decimals compare exactly, whatever their trailing zeros)."""
    given = pa.array(texts, pa.string())
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(given), ""), False)
    given = pc.if_else(blank, pa.scalar(None, pa.string()), given)  # `<VunitRate/>`: not given
    if given.null_count == len(given):
        return
    try:
        published = pc.cast(_cleaned(given), UNIT_RATE)
        agrees = pc.fill_null(pc.equal(published, unit_rate), True)
        if _all(agrees):
            return
        disagreeing = pc.indices_nonzero(pc.invert(agrees)).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        disagreeing = pc.indices_nonzero(pc.is_valid(given)).to_pylist()
    for index in disagreeing:
        computed = unit_rate[index].as_py()
        try:
            stated = parse_decimal(given[index].as_py(), "VunitRate")
        except ValueError as e:
            reasons.setdefault(index, str(e))
            continue
        if computed is not None and stated.normalize() != computed.normalize():
            reasons.setdefault(index, f"VunitRate {format(stated, 'f')} disagrees with "
                                      f"Value/Nominal {format(computed.normalize(), 'f')}")


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask, min_count=0).as_py())


def _cleaned(texts: pa.Array) -> pa.Array:
    """As `parse_decimal`: CBR writes `1 234,5678` (a space or a no-break space groups digits)."""
    for old, new in ((" ", ""), ("\xa0", ""), (",", ".")):
        texts = pc.replace_substring(texts, old, new)
    return texts


def _date(text: str | None, where: str) -> dt.date:
    if not text:
        raise SourceFormatError(f"{where} is missing")
    parts = text.strip().replace("/", ".").split(".")
    try:
        day, month, year = (int(part) for part in parts)
        if len(parts[2]) != 4:
            raise ValueError
        return dt.date(year, month, day)
    except ValueError:
        raise SourceFormatError(f'{where} is not a dd.mm.yyyy date: "{text}"') from None


def _stripped(text: str | None) -> str | None:
    return (text.strip() or None) if text else None


def _num_code(text: str | None) -> str | None:
    # The directory gives `36` for AUD; ISO numeric codes are three digits.
    if text is None:
        return None
    return text.zfill(3) if text.isdigit() else text


def _describe(element: Element) -> dict[str, str | None]:
    described: dict[str, str | None] = dict(element.attrib)
    described.update({child.tag: child.text for child in element})
    return described
