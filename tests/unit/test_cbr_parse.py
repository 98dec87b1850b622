"""The CBR parsers over real recorded responses (tests/fixtures/cbr, see its README)."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from sco_etl.schemas.errors import SourceFormatError
from sco_etl.tasks.cbr.parse import parse_daily, parse_decimal, parse_directory, parse_dynamic
from sco_etl.tasks.cbr.records import RECORDS, RateDocument

CBR = Path(__file__).parents[1] / "fixtures" / "cbr"


def load(name: str) -> bytes:
    return (CBR / name).read_bytes()


def records(document: RateDocument) -> list[dict]:
    return document.records.to_pylist()


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
    assert document.records.num_rows == count
    assert document.rejected == []
    assert set(document.records["rate_date"].to_pylist()) == {rate_date}


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
    record = next(r for r in records(parse_daily(load(name))) if r["char_code"] == code)
    assert record["cbr_id"] == cbr_id
    assert record["nominal"] == nominal
    assert record["value"] == Decimal(value)
    assert isinstance(record["value"], Decimal)
    assert record["unit_rate"] == Decimal(unit_rate)


def test_daily_reads_windows_1251_names_and_checks_vunit_rate():
    by_code = {r["char_code"]: r for r in records(parse_daily(load("XML_daily_2025-04-01.xml")))}
    assert by_code["CNY"]["name"] == "Юань"
    assert by_code["KZT"]["name"] == "Тенге"
    assert by_code["AMD"]["num_code"] == "051"
    # <VunitRate>0,00662085</VunitRate> agrees with 66,2085 per 10000.
    assert by_code["UZS"]["unit_rate"] == Decimal("0.00662085")


def test_dynamic_has_only_quoted_dates():
    document = parse_dynamic(load("XML_dynamic_R01235_2025-01-01_2025-01-20.xml"))
    assert document.cbr_id == "R01235"
    rows = records(document)
    assert [r["rate_date"].day for r in rows] == [10, 11, 14, 15, 16, 17, 18]
    assert rows[3]["value"] == Decimal("103.4380")
    assert rows[3]["unit_rate"] == Decimal("103.438")
    assert all(r["char_code"] is None and r["nominal"] == 1 for r in rows)
    assert document.records.schema == RECORDS


def test_dynamic_empty_for_unquoted_currency():
    body = (b'<?xml version="1.0" encoding="windows-1251"?><ValCurs ID="R01999" '
            b'DateRange1="01.01.2025" DateRange2="20.01.2025" name="Foreign Currency Market '
            b'Dynamic"></ValCurs>')
    document = parse_dynamic(body)
    assert document.records.num_rows == 0 and document.records.schema == RECORDS


def dynamic(*records: str) -> bytes:
    return ('<?xml version="1.0" encoding="windows-1251"?><ValCurs ID="R01375" '
            'DateRange1="01.04.2025" DateRange2="03.04.2025" name="Foreign Currency Market '
            'Dynamic">' + "".join(records) + "</ValCurs>").encode("cp1251")


def record(day: str = "01.04.2025", nominal: str = "1", value: str = "11,7136",
           vunit: str | None = None, extra: str = "", attributes: str = ' Id="R01375"') -> str:
    vunit_element = f"<VunitRate>{vunit}</VunitRate>" if vunit is not None else ""
    return (f'<Record Date="{day}"{attributes}><Nominal>{nominal}</Nominal>'
            f"<Value>{value}</Value>{vunit_element}{extra}</Record>")


@pytest.mark.parametrize(("bad", "reason"), [
    (record(day="31.02.2025"), 'Record@Date is not a dd.mm.yyyy date: "31.02.2025"'),
    (record(day="2025-04-02"), 'Record@Date is not a dd.mm.yyyy date: "2025-04-02"'),
    (record(nominal="сто"), 'Nominal "сто" is not an integer'),
    (record(nominal=""), "Nominal is missing"),
    (record(nominal="10000000000"), "Nominal 10000000000 is too large"),
    (record(value=""), "Value is missing"),
    (record(value="abc"), 'Value "abc" is not a number'),
    (record(value="NaN"), 'Value "NaN" is not a finite number'),
    (record(value="1E+30"), "Value 1E+30 is too large"),
    (record(value="11,71365"), "Value 11,71365 has more than four decimal places"),
    (record(vunit="99,0000"), "VunitRate 99.0000 disagrees with Value/Nominal 11.7136"),
    (record(vunit="x"), 'VunitRate "x" is not a number'),
    (record(extra="<Value>12,0000</Value>"), "duplicated element <Value>"),
])
def test_a_record_that_cannot_be_read_is_rejected_with_its_reason(bad, reason):
    good = [record(day="02.04.2025", vunit="11,7136"), record(day="03.04.2025", nominal="10",
                                                              value="117,1360", vunit="11,7136")]
    document = parse_dynamic(dynamic(good[0], bad, good[1]))
    assert [r["rate_date"].day for r in records(document)] == [2, 3]
    assert [r["unit_rate"] for r in records(document)] == [Decimal("11.7136")] * 2
    (rejected,) = document.rejected
    assert rejected.reason == reason
    assert rejected.record["Id"] == "R01375"


@pytest.mark.parametrize(("nominal", "value", "unit_rate"), [
    ("1", "11,7136", "11.7136"), ("100", "16,9831", "0.169831"),
    ("1000000", "22,2616", "0.0000222616"), ("3", "10,0000", "3.333333333333"),
    ("7", " 1 234,5 ", "176.357142857143"),
])
def test_unit_rates_are_exact_or_rounded_at_twelve_places(nominal, value, unit_rate):
    (row,) = records(parse_dynamic(dynamic(record(nominal=nominal, value=value))))
    assert row["unit_rate"] == Decimal(unit_rate)


def test_a_record_without_its_id_takes_the_document_s():
    (row,) = records(parse_dynamic(dynamic(record(attributes=""))))
    assert row["cbr_id"] == "R01375"


def test_an_empty_vunit_rate_is_no_vunit_rate():
    (row,) = records(parse_dynamic(dynamic(record(vunit=""))))
    assert row["value"] == Decimal("11.7136")


def test_directory_strips_parent_code_and_pads_num_code():
    entries = {e.cbr_id: e for e in parse_directory(load("XML_valFull_d0.xml"), "daily")}
    assert len(entries) == 61
    assert entries["R01020A"].parent_id == "R01020"
    assert entries["R01010"].num_code == "036"
    assert entries["R01436"].char_code is None and entries["R01436"].num_code is None
    assert entries["R01375"].name_en == "China Yuan"
    assert {e.frequency for e in entries.values()} == {"daily"}
    monthly = {e.cbr_id: e for e in parse_directory(load("XML_valFull_d1.xml"), "monthly")}
    assert monthly["R01300"].char_code == "IRR" and monthly["R01300"].nominal == 10000
    assert monthly["R01300"].frequency == "monthly" and monthly["R01300"].source == "directory"
    # One ISO code under several IDs.
    assert [i for i, e in monthly.items() if e.char_code == "SAR"] == ["R01580", "R01580C"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2,22616E-05", "0.0000222616"), ("11,7136", "11.7136"), ("1 234,5", "1234.5"),
     ("0,00662085", "0.00662085")],
)
def test_parse_decimal(text, expected):
    assert parse_decimal(text) == Decimal(expected)


@pytest.mark.parametrize(("text", "reason"), [
    ("", "number is missing"), (None, "number is missing"), ("abc", '"abc" is not a number'),
    ("NaN", '"NaN" is not a finite number'), ("Infinity", "is not a finite number"),
    ("1_000", "is not a number")])
def test_parse_decimal_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
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
            "<Nominal>сто</Nominal><Value>16,9831</Value></Valute>"
            "<Valute><CharCode>XXX</CharCode><Nominal>1</Nominal><Value>1,0</Value></Valute>"
            "</ValCurs>").encode("cp1251")
    document = parse_daily(body)
    assert [r["char_code"] for r in records(document)] == ["CNY"]
    assert [(r.reason, r.record.get("CharCode")) for r in document.rejected] == [
        ('Nominal "сто" is not an integer', "KZT"), ("no currency ID", "XXX")]


@pytest.mark.parametrize("name", sorted(p.name for p in CBR.glob("XML_daily_2025-*.xml")))
def test_published_unit_rate_agrees_with_value_over_nominal(name):
    # Every record carries a VunitRate; a disagreeing one would be rejected.
    assert parse_daily(load(name)).rejected == []
