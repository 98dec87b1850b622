"""The web app's encoders: exact decimals, and DuckDB's encoding equal to Python's byte for byte."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pytest

from sco_etl.flows.web import encode

ROWS = """
SELECT * FROM (VALUES
    (DATE '2025-04-01', 'CNY', 1, 11.7136::DECIMAL(18,4), 11.7136::DECIMAL(38,12),
     TIMESTAMPTZ '2025-04-01 09:00:00+00', 'a, "quoted"
line', ['China', 'Russia']),
    (DATE '1992-07-01', 'KZT', 100, 0.0100::DECIMAL(18,4), 10::DECIMAL(38,12),
     TIMESTAMPTZ '2011-05-23 06:00:00.5+00', NULL, NULL)
) AS t(date, code, nominal, value, unit_rate, published_at, title, countries)
"""


def test_decimals_keep_their_digits():
    assert encode.json_value(Decimal("11.7136"), "value") == "11.7136"
    assert encode.json_value(Decimal("0.0100"), "value") == "0.0100"  # as published
    assert encode.json_value(Decimal("0.169831000000"), "unit_rate") == "0.169831"
    assert encode.json_value(Decimal("10.000000000000"), "rate") == "10"
    assert json.loads(encode.json_object({"value": Decimal("123456789012.3456")}),
                      parse_float=Decimal) == {"value": Decimal("123456789012.3456")}


def test_times_are_utc_iso():
    moment = dt.datetime(2025, 4, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert encode.text(moment) == "2025-04-01T09:00:00.000000Z"


@pytest.mark.parametrize("kind", ["json", "ndjson", "csv"])
def test_duckdb_encodes_exactly_as_python(kind):
    connection = duckdb.connect()
    relation = connection.sql(ROWS)
    table = relation.to_arrow_table()
    python = {"json": lambda: encode.json_array(encode.rows(table)),
              "ndjson": lambda: encode.ndjson(encode.rows(table)),
              "csv": lambda: encode.csv_lines(table.column_names, encode.rows(table))}[kind]()
    assert b"".join(encode.lines(relation, kind)) == b"".join(python)
