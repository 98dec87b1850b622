"""Pure parsers for the three CBR documents: bytes in, records (or Arrow columns) out.

No I/O, no logging. Bytes are parsed as XML with their declared encoding (windows-1251).
CBR documents never carry a DTD, so any document type declaration is refused outright: no
entity expansion (billion laughs), no external entity, no DTD fetch can happen.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation, localcontext

from lxml import etree
from lxml.etree import _Element as Element

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.cbr.columns import DynamicColumns, read_columns
from sco_etl.tasks.cbr.records import (
    BadRecord,
    DailyDocument,
    DirectoryEntry,
    DynamicDocument,
    RateRecord,
)

UNIT_RATE_PLACES = Decimal("1e-12")
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
    remove_comments=True, remove_pis=True,
)


def parse_daily(data: bytes) -> DailyDocument:
    """Parse `XML_daily.asp` bytes.

    Raises:
        SourceFormatError: not a well-formed `ValCurs` with a `Date` and at least one `Valute`.
    """
    root = _root(data, "ValCurs", "XML_daily")
    rate_date = _date(root.get("Date"), "ValCurs@Date")
    valutes = root.findall("Valute")
    if not valutes:
        raise SourceFormatError(
            f"XML_daily for {rate_date} holds no Valute element; an empty day is never valid"
        )
    records, bad = [], []
    for element in valutes:
        try:
            records.append(_rate(element, rate_date, element.get("ID")))
        except ValueError as e:
            bad.append(BadRecord(_describe(element), str(e)))
    return DailyDocument(rate_date, records, bad)


def parse_dynamic(data: bytes) -> DynamicDocument:
    """Parse `XML_dynamic.asp` bytes record by record; an unquoted currency gives an empty list.

    The careful reading: every record is read on its own, and one that cannot be read becomes
    a `BadRecord` with the reason. `parse_dynamic_columns` is the fast reading of a clean
    document.

    Raises:
        SourceFormatError: not a well-formed `ValCurs` with an `ID` and a date range.
    """
    root, cbr_id = _dynamic_root(data)
    records, bad = [], []
    for element in root.findall("Record"):
        try:
            rate_date = _date(element.get("Date"), "Record@Date")
            record_id = (element.get("Id") or element.get("ID") or cbr_id).strip()
            records.append(_rate(element, rate_date, record_id))
        except (ValueError, SourceFormatError) as e:
            bad.append(BadRecord(_describe(element), str(e)))
    return DynamicDocument(cbr_id, records, bad)


def parse_dynamic_columns(data: bytes) -> DynamicColumns | None:
    """Parse `XML_dynamic.asp` bytes straight into Arrow columns, if the document is clean.

    Returns None when any record needs the careful reading of `parse_dynamic` (a missing or
    duplicated field, a value that is not exact at four places, a nominal that is not a power
    of ten, a VunitRate that disagrees): that reading gives each such record its reason.

    Raises:
        SourceFormatError: not a well-formed `ValCurs` with an `ID` and a date range.
    """
    root, cbr_id = _dynamic_root(data)
    return read_columns(root, cbr_id)


def _dynamic_root(data: bytes) -> tuple[Element, str]:
    root = _root(data, "ValCurs", "XML_dynamic")
    cbr_id = (root.get("ID") or "").strip()
    if not cbr_id or root.get("DateRange1") is None:
        raise SourceFormatError("XML_dynamic: ValCurs lacks its ID or DateRange1 attribute")
    return root, cbr_id


def parse_directory(data: bytes) -> list[DirectoryEntry]:
    """Parse `XML_valFull.asp` bytes (d=0 or d=1).

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
        nominal = _text(item, "Nominal")
        entries.append(DirectoryEntry(
            cbr_id=cbr_id,
            # ParentCode is right-padded with spaces in the service's output.
            parent_id=_text(item, "ParentCode"),
            char_code=_text(item, "ISO_Char_Code"),
            num_code=_num_code(_text(item, "ISO_Num_Code")),
            name_ru=_text(item, "Name"),
            name_en=_text(item, "EngName"),
            nominal=int(nominal) if nominal and nominal.isdigit() else 1,
        ))
    return entries


def parse_decimal(text: str | None) -> Decimal:
    """`'1 234,5678'` or `'2,22616E-05'` to an exact Decimal."""
    if text is None or not text.strip():
        raise ValueError("missing number")
    cleaned = text.strip().replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return number


def _root(data: bytes, expected: str, document: str) -> Element:
    if not data or not data.strip():
        raise SourceFormatError(f"{document}: empty response body")
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError, LookupError) as e:
        head = data[:60].decode("latin-1", "replace")
        raise SourceFormatError(
            f"{document}: not a well-formed XML document ({e}); it starts with {head!r}. "
            "The service may be down or answering with an error page; try again later."
        ) from e
    if root.getroottree().docinfo.doctype:
        raise SourceFormatError(
            f"{document}: refused a document type declaration (DTD); CBR documents have none"
        )
    if root.tag != expected:
        raise SourceFormatError(f"{document}: root element is <{root.tag}>, expected <{expected}>")
    return root


def _rate(element: Element, rate_date: dt.date, cbr_id: str | None) -> RateRecord:
    if not cbr_id or not cbr_id.strip():
        raise ValueError("no currency ID")
    # One pass over the children: `find` per field costs seconds over a full history.
    fields = _children(element)
    if len(fields) != len(element):
        # Two <Value> in one record: which did the source mean? Never silently the last one.
        tags = [child.tag for child in element]
        twice = sorted({tag for tag in tags if tags.count(tag) > 1})
        raise ValueError("duplicated element " + ", ".join(f"<{tag}>" for tag in twice))
    nominal_text = fields.get("Nominal")
    if nominal_text is None or not nominal_text.lstrip("-").isdigit():
        raise ValueError(f"Nominal is not an integer: {nominal_text!r}")
    nominal = int(nominal_text)
    value = parse_decimal(fields.get("Value"))
    vunit = fields.get("VunitRate")
    with localcontext() as context:
        context.prec = 50
        unit_rate = (value / nominal).quantize(UNIT_RATE_PLACES) if nominal else value
    return RateRecord(
        rate_date=rate_date,
        cbr_id=cbr_id.strip(),
        char_code=fields.get("CharCode"),
        num_code=_num_code(fields.get("NumCode")),
        nominal=nominal,
        value=value,
        unit_rate=unit_rate,
        published_unit_rate=parse_decimal(vunit) if vunit is not None else None,
        name=fields.get("Name"),
    )


def _date(text: str | None, where: str) -> dt.date:
    if not text:
        raise SourceFormatError(f"{where} is missing")
    # Split by hand: strptime costs seconds over a full history of records.
    parts = text.strip().replace("/", ".").split(".")
    try:
        day, month, year = (int(part) for part in parts)
        if len(parts[2]) != 4:
            raise ValueError
        return dt.date(year, month, day)
    except ValueError:
        raise SourceFormatError(f"{where} is not a dd.mm.yyyy date: {text!r}") from None


def _text(element: Element, tag: str) -> str | None:
    return _children(element).get(tag)


def _children(element: Element) -> dict[str, str | None]:
    """Child element texts by tag, stripped; empty text is None."""
    return {child.tag: (child.text.strip() or None) if child.text else None
            for child in element}


def _num_code(text: str | None) -> str | None:
    # The directory gives `36` for AUD; ISO numeric codes are three digits.
    if text is None:
        return None
    return text.zfill(3) if text.isdigit() else text


def _describe(element: Element) -> dict[str, str | None]:
    described: dict[str, str | None] = dict(element.attrib)
    described.update({child.tag: child.text for child in element})
    return described
