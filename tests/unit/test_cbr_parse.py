"""The CBR parsers over real recorded responses (tests/fixtures/cbr, see its README)."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.cbr.parse import parse_daily, parse_decimal, parse_directory, parse_dynamic

CBR = Path(__file__).parents[1] / "fixtures" / "cbr"


def load(name: str) -> bytes:
    return (CBR / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "rate_date", "count"),
    [
        ("XML_daily_2002-03-02.xml", dt.date(2002, 3, 2), 17),
        ("XML_daily_2022-11-02.xml", dt.date(2022, 11, 2), 34),
        ("XML_daily_2025-04-01.xml", dt.date(2025, 4, 1), 43),
        ("XML_daily_2025-04-02.xml", dt.date(2025, 4, 2), 43),
        ("XML_daily_2025-04-03.xml", dt.date(2025, 4, 3), 43),
    ],
)
def test_daily_effective_date_and_count(name, rate_date, count):
    document = parse_daily(load(name))
    assert document.rate_date == rate_date
    assert len(document.records) == count
    assert document.bad == []
    assert {r.rate_date for r in document.records} == {rate_date}


@pytest.mark.parametrize(
    ("name", "code", "cbr_id", "nominal", "value", "unit_rate"),
    [
        ("XML_daily_2025-04-01.xml", "CNY", "R01375", 1, "11.7136", "11.7136"),
        ("XML_daily_2025-04-01.xml", "KZT", "R01335", 100, "16.9831", "0.169831"),
        ("XML_daily_2025-04-01.xml", "UZS", "R01717", 10000, "66.2085", "0.00662085"),
        ("XML_daily_2022-11-02.xml", "CNY", "R01375", 10, "84.0548", "8.40548"),
        ("XML_daily_2022-11-02.xml", "TRY", "R01700J", 10, "33.0108", "3.30108"),
        ("XML_daily_2002-03-02.xml", "BYR", "R01090", 1000, "18.4290", "0.018429"),
        ("XML_daily_2002-03-02.xml", "TRL", "R01700", 1000000, "22.2616", "0.0000222616"),
        ("XML_daily_2002-03-02.xml", "KZT", "R01335", 100, "20.3393", "0.203393"),
    ],
)
def test_daily_values_are_exact(name, code, cbr_id, nominal, value, unit_rate):
    record = next(r for r in parse_daily(load(name)).records if r.char_code == code)
    assert record.cbr_id == cbr_id
    assert record.nominal == nominal
    assert record.value == Decimal(value)
    assert isinstance(record.value, Decimal)
    assert record.unit_rate == Decimal(unit_rate)


def test_daily_reads_windows_1251_names_and_vunit_rate():
    records = {r.char_code: r for r in parse_daily(load("XML_daily_2025-04-01.xml")).records}
    assert records["CNY"].name == "Юань"
    assert records["KZT"].name == "Тенге"
    assert records["AMD"].num_code == "051"
    assert records["UZS"].published_unit_rate == Decimal("0.00662085")
    assert records["UZS"].published_unit_rate == records["UZS"].unit_rate


def test_dynamic_has_only_quoted_dates():
    document = parse_dynamic(load("XML_dynamic_R01235_2025-01-01_2025-01-20.xml"))
    assert document.cbr_id == "R01235"
    assert [r.rate_date.day for r in document.records] == [10, 11, 14, 15, 16, 17, 18]
    assert document.records[3].value == Decimal("103.4380")
    assert document.records[3].published_unit_rate == Decimal("103.438")
    assert all(r.char_code is None and r.nominal == 1 for r in document.records)


def test_dynamic_empty_for_unquoted_currency():
    body = (b'<?xml version="1.0" encoding="windows-1251"?><ValCurs ID="R01999" '
            b'DateRange1="01.01.2025" DateRange2="20.01.2025" name="Foreign Currency Market '
            b'Dynamic"></ValCurs>')
    assert parse_dynamic(body).records == []


def test_directory_strips_parent_code_and_pads_num_code():
    entries = {e.cbr_id: e for e in parse_directory(load("XML_valFull_d0.xml"))}
    assert len(entries) == 61
    assert entries["R01020A"].parent_id == "R01020"
    assert entries["R01010"].num_code == "036"
    assert entries["R01436"].char_code is None and entries["R01436"].num_code is None
    assert entries["R01375"].name_en == "China Yuan"
    monthly = {e.cbr_id: e for e in parse_directory(load("XML_valFull_d1.xml"))}
    assert monthly["R01300"].char_code == "IRR" and monthly["R01300"].nominal == 10000
    # One ISO code under several IDs.
    assert [i for i, e in monthly.items() if e.char_code == "SAR"] == ["R01580", "R01580C"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2,22616E-05", "0.0000222616"), ("11,7136", "11.7136"), ("1 234,5", "1234.5"),
     ("0,00662085", "0.00662085")],
)
def test_parse_decimal(text, expected):
    assert parse_decimal(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "abc", "NaN", "Infinity", None])
def test_parse_decimal_rejects(text):
    with pytest.raises(ValueError):
        parse_decimal(text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty response body"),
        (b"<html><body>Service unavailable</body></html>", "root element is <html>"),
        (load("XML_daily_2025-04-01.xml")[:3000], "not a well-formed XML document"),
        (load("XML_valFull_d0.xml"), "root element is <Valuta>"),
        (b'<?xml version="1.0"?><ValCurs Date="01.04.2025"></ValCurs>', "no Valute"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ValCurs Date="01.04.2025">'
         b"<Valute ID='R1'><Value>&a;</Value></Valute></ValCurs>", "document type declaration"),
        (b'<?xml version="1.0"?><ValCurs Date="2025-04-01"><Valute/></ValCurs>',
         "not a dd.mm.yyyy date"),
    ],
)
def test_daily_format_errors(body, message):
    with pytest.raises(SourceFormatError, match=message):
        parse_daily(body)


def test_daily_bad_record_is_reported_not_fatal():
    body = ('<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="01.04.2025">'
            '<Valute ID="R01375"><NumCode>156</NumCode><CharCode>CNY</CharCode>'
            "<Nominal>1</Nominal><Value>11,7136</Value></Valute>"
            '<Valute ID="R01335"><NumCode>398</NumCode><CharCode>KZT</CharCode>'
            "<Nominal>сто</Nominal><Value>16,9831</Value></Valute></ValCurs>").encode("cp1251")
    document = parse_daily(body)
    assert [r.char_code for r in document.records] == ["CNY"]
    assert len(document.bad) == 1
    assert "Nominal is not an integer" in document.bad[0].reason
    assert document.bad[0].element["CharCode"] == "KZT"


@pytest.mark.parametrize("name", sorted(p.name for p in CBR.glob("XML_daily_2025-*.xml")))
def test_published_unit_rate_agrees_with_value_over_nominal(name):
    for record in parse_daily(load(name)).records:
        assert record.published_unit_rate.normalize() == record.unit_rate.normalize()
