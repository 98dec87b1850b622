"""Rate rows from CBR documents: one row per rate whichever document delivered it (issue 18)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from sco_etl.flows.config import resolve
from sco_etl.schemas import RATES
from sco_etl.tasks.cbr import currencies
from sco_etl.tasks.cbr.currencies import Directory
from sco_etl.tasks.cbr.extract import RateBatch, fetch_rates, rate_rows, validate_rates
from sco_etl.tasks.cbr.parse import parse_daily, parse_dynamic
from sco_etl.tasks.cbr.planning import DailyRequest
from sco_etl.tasks.cbr.records import DirectoryEntry
from sco_etl.tasks.run import Run

RUN = Run("run", "ingest-rates", {})
AED = DirectoryEntry("R01230", "R01230", "AED", "784", "Дирхам ОАЭ", "UAE Dirham", 1, "monthly",
                     "directory")
DIRECTORY = Directory({"R01230": AED})


def daily(value: str = "20,0200") -> bytes:
    return ('<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="28.11.2026" '
            'name="Foreign Currency Market"><Valute ID="R01230"><NumCode>784</NumCode>'
            "<CharCode>AED</CharCode><Nominal>1</Nominal><Name>Дирхам ОАЭ</Name>"
            f"<Value>{value}</Value></Valute></ValCurs>").encode("cp1251")


def dynamic(value: str = "20,0200") -> bytes:
    return ('<?xml version="1.0" encoding="windows-1251"?><ValCurs ID="R01230" '
            'DateRange1="27.11.2026" DateRange2="28.11.2026" name="Foreign Currency Market '
            f'Dynamic"><Record Date="28.11.2026" Id="R01230"><Nominal>1</Nominal><Value>{value}'
            "</Value></Record></ValCurs>").encode("cp1251")


def batch(daily_rows: pa.Table | None = None, dynamic_rows: pa.Table | None = None):
    return RateBatch(RATES.empty() if daily_rows is None else daily_rows,
                     RATES.empty() if dynamic_rows is None else dynamic_rows, [], RUN)


def rows(document: bytes, parse) -> pa.Table:
    table, rejected = rate_rows(parse(document).records, DIRECTORY, RUN)
    assert rejected == []
    return table


def test_a_row_takes_its_codes_and_frequency_from_the_directory_whatever_the_document():
    from_daily, from_dynamic = rows(daily(), parse_daily), rows(dynamic(), parse_dynamic)
    assert from_daily.to_pylist() == from_dynamic.to_pylist()
    (row,) = from_daily.to_pylist()
    # XML_daily quotes AED; the directory lists it as monthly, and so does the row.
    assert (row["char_code"], row["num_code"], row["frequency"]) == ("AED", "784", "monthly")


def test_one_rate_from_both_documents_is_one_row():
    checked = validate_rates.fn([batch(rows(daily(), parse_daily)),
                                 batch(dynamic_rows=rows(dynamic(), parse_dynamic))],
                                DIRECTORY, RUN)
    assert checked.validated.rows.num_rows == 1 and checked.validated.rejected == []


def test_two_values_keep_the_day_s_daily_one_and_quarantine_the_other_naming_both():
    checked = validate_rates.fn([batch(rows(daily("20,0200"), parse_daily),
                                       rows(dynamic("20,0100"), parse_dynamic))], DIRECTORY, RUN)
    assert checked.validated.rows["value"].to_pylist() == [Decimal("20.0200")]
    (rejected,) = checked.validated.rejected
    assert rejected.reason == (
        "two published values for rate_date 2026-11-28, cbr_id R01230: 20.0100 per 1 in "
        "XML_dynamic, 20.0200 per 1 in the day's XML_daily, which is kept")
    assert rejected.record["value"] == Decimal("20.0100")


def test_a_date_with_no_rate_set_is_stored_under_the_document_s_date(fake_cbr, monkeypatch):
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    source = resolve(cbr_url=fake_cbr.url).cbr
    directory = Directory.listed(source.client().directory(False), [])
    sunday = dt.date(2025, 4, 6)
    got = fetch_rates.fn(source, [DailyRequest(sunday)], directory,
                         currencies.resolve(directory, ["KZT"]), RUN)
    assert got.answered == {sunday: dt.date(2025, 4, 5)}
    assert got.daily.select(["rate_date", "cbr_id"]).to_pylist() == [
        {"rate_date": dt.date(2025, 4, 5), "cbr_id": "R01335"}]
    assert got.quoted["R01335"] == {dt.date(2025, 4, 5)} and got.run is RUN
