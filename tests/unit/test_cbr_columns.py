"""The columnar reading of `XML_dynamic` gives exactly the rows of the record-by-record one.

A clean document goes straight to Arrow columns (tasks/cbr/columns.py); a document with any
record out of the ordinary must fall back to the careful reading, which says what is wrong.
Both readings run here over the recorded fixture and over the synthetic service's documents
of every SCO currency since 1992 (nominal changes, old rubles, monthly-set IDs).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from sco_etl.tasks.cbr import extract
from sco_etl.tasks.cbr.currencies import Directory, resolve
from sco_etl.tasks.cbr.extract import parse_documents
from sco_etl.tasks.cbr.parse import parse_dynamic_columns
from sco_etl.tasks.cbr.planning import DynamicRequest
from sco_etl.tasks.run import Run
from tests.fakes.cbr_history import History
from tests.fakes.cbr_server import FakeCbr

CBR = Path(__file__).parents[1] / "fixtures" / "cbr"
FIXTURE = CBR / "XML_dynamic_R01235_2025-01-01_2025-01-20.xml"
LAST = dt.date(2025, 4, 3)
SERVICE = FakeCbr(History(last_date=LAST))
RUN = Run("run-1", "ingest-rates", {})


def _directory() -> Directory:
    return Directory({
        s.cbr_id: {"cbr_id": s.cbr_id, "char_code": s.char_code, "num_code": s.num_code,
                   "frequency": "monthly" if s.is_monthly_on(LAST) else "daily"}
        for s in SERVICE.history.series
    })


DIRECTORY = _directory()


def _document(cbr_id: str, start: dt.date, end: dt.date) -> bytes:
    args = MultiDict({"VAL_NM_RQ": cbr_id, "date_req1": f"{start:%d/%m/%Y}",
                      "date_req2": f"{end:%d/%m/%Y}"})
    return SERVICE.dynamic(args).encode("windows-1251")


def _both(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[extract.RateBatch, ...]:
    """(columnar, careful) batches of one document; the careful one with the columns off."""
    cbr_id = re.search(rb'ValCurs ID="([^"]*)"', body).group(1).decode()
    request = DynamicRequest(cbr_id, dt.date(1992, 7, 1), LAST)
    currency_set = resolve(DIRECTORY, [DIRECTORY.rows[cbr_id]["char_code"]])

    def read() -> extract.RateBatch:
        return parse_documents([(request, body)], DIRECTORY, currency_set, RUN)

    fast = read()
    with monkeypatch.context() as patch:
        patch.setattr(extract, "_dynamic_table", lambda *_: None)
        careful = read()
    return fast, careful


def test_the_recorded_document_reads_the_same_both_ways(monkeypatch):
    body = FIXTURE.read_bytes()
    assert extract._dynamic_table(body, DIRECTORY, RUN) is not None
    fast, careful = _both(body, monkeypatch)
    assert fast.rows.num_rows == 7
    assert fast.rows.equals(careful.rows)
    assert fast.rejected == careful.rejected == []
    first = fast.rows.slice(0, 1).to_pylist()[0]
    assert (first["rate_date"], str(first["value"]), str(first["unit_rate"])) == (
        dt.date(2025, 1, 10), "102.2911", "102.291100000000")


@pytest.mark.parametrize("series", SERVICE.history.series, ids=lambda s: s.cbr_id)
def test_every_synthetic_history_reads_the_same_both_ways(series, monkeypatch):
    body = _document(series.cbr_id, dt.date(1992, 7, 1), LAST)
    assert extract._dynamic_table(body, DIRECTORY, RUN) is not None, (
        "a clean document of a known ID takes the columnar path")
    fast, careful = _both(body, monkeypatch)
    assert fast.rows.num_rows == len(SERVICE.history.values[series.cbr_id]) > 0
    assert fast.rows.equals(careful.rows)
    assert fast.rejected == careful.rejected == []


def test_nominal_changes_and_old_rubles_are_exact():
    # CNY: quoted per 1 and per 10 over its life, in old rubles before 1998.
    series = SERVICE.history.by_id["R01375"]
    columns = parse_dynamic_columns(_document(series.cbr_id, dt.date(1992, 7, 1), LAST))
    expected = SERVICE.history.values[series.cbr_id]
    got = zip(columns.rate_date.to_pylist(), columns.nominal.to_pylist(),
              columns.value.to_pylist(), columns.unit_rate.to_pylist(), strict=True)
    for day, nominal, value, unit_rate in got:
        assert (nominal, value) == expected[day]
        assert unit_rate == value / nominal
    assert set(columns.nominal.to_pylist()) == {1, 10}
    assert columns.rate_date[0].as_py() < dt.date(1998, 1, 1)


CLEAN = _document("R01375", dt.date(2022, 12, 20), dt.date(2023, 1, 20))


NO_VUNIT = re.sub(rb"<VunitRate>[^<]*</VunitRate>", b"", CLEAN)


def _edit(pattern: bytes, replacement: bytes, body: bytes = CLEAN) -> bytes:
    edited = re.sub(pattern, replacement, body, count=1)
    assert edited != body
    return edited


@pytest.mark.parametrize(("name", "body"), [
    ("clean", CLEAN),
    ("no VunitRate before 2023, as CBR's old records",
     re.sub(rb"<VunitRate>[^<]*</VunitRate>(?=\s*</Record>\s*<Record Date=\"\d\d\.12\.2022)",
            b"", CLEAN)),
    ("no VunitRate at all", NO_VUNIT),
    ("digits grouped by a space", _edit(rb"<Value>(\d+),", rb"<Value>1 \1,", NO_VUNIT)),
    ("digits grouped by a no-break space",
     _edit(rb"<Value>(\d+),", "<Value>1\xa0\\1,".encode("windows-1251"), NO_VUNIT)),
    ("a negative value, for the checks to refuse", _edit(rb"<Value>", b"<Value>-", NO_VUNIT)),
    ("no records", re.sub(rb"<Record .*</Record>\s*", b"", CLEAN, flags=re.S)),
])
def test_documents_the_columns_read(name, body, monkeypatch):
    assert parse_dynamic_columns(body) is not None
    fast, careful = _both(body, monkeypatch)
    assert fast.rows.equals(careful.rows)
    assert fast.rejected == careful.rejected


@pytest.mark.parametrize(("name", "body"), [
    ("a VunitRate missing mid-document", re.sub(
        rb"(<Record Date=\"10\.01\.2023[^>]*>.*?)<VunitRate>[^<]*</VunitRate>", rb"\1", CLEAN,
        flags=re.S)),
    ("a VunitRate that disagrees", _edit(rb"<VunitRate>[^<]*<", b"<VunitRate>1,5<")),
    ("five decimal places", _edit(rb"<Value>([^<]*)<", rb"<Value>\g<1>7<")),
    ("an exponent", _edit(rb"<Value>[^<]*<", b"<Value>2,22616E-05<")),
    ("a nominal of 3", _edit(rb"<Nominal>\d+<", b"<Nominal>3<")),
    ("a nominal of 10**9", _edit(rb"<Nominal>\d+<", b"<Nominal>1000000000<")),
    ("a zero-padded nominal", _edit(rb"<Nominal>(\d+)<", rb"<Nominal>0\1<")),
    ("a date that does not exist", _edit(rb'Date="\d\d\.01\.2023"', b'Date="31.02.2023"')),
    ("a date with a space", _edit(rb'Date="(\d)', rb'Date=" \1')),
    ("another currency's record", _edit(rb'Id="R01375"', b'Id="R01235"')),
    ("a record without Id", _edit(rb' Id="R01375"', b"")),
    ("a duplicated Value", _edit(rb"(<Value>[^<]*</Value>)", rb"\1\1")),
    ("a missing Value", _edit(rb"<Value>[^<]*</Value>", b"")),
    ("an empty Value", _edit(rb"<Value>[^<]*</Value>", b"<Value/>")),
    ("an unknown element", _edit(rb"</Nominal>", b"</Nominal><Bonus>1</Bonus>")),
    ("text split by a child", _edit(rb"<Value>([^<,]*),", rb"<Value>\1<b/>,")),
])
def test_anything_unusual_takes_the_careful_reading(name, body, monkeypatch):
    assert parse_dynamic_columns(body) is None
    fast, careful = _both(body, monkeypatch)
    assert fast.rows.equals(careful.rows)
    assert fast.rejected == careful.rejected


def test_a_rejected_record_keeps_its_reason_on_the_careful_reading(monkeypatch):
    body = _edit(rb"<VunitRate>[^<]*<", b"<VunitRate>1,5<")
    fast, _ = _both(body, monkeypatch)
    (rejected,) = fast.rejected
    assert rejected.reason.startswith("VunitRate 1.5 disagrees with Value/Nominal")
    assert fast.rows.num_rows == CLEAN.count(b"<Record ") - 1
