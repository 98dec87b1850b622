"""Answers as bytes: JSON, NDJSON and CSV, with money exactly as stored.

A DECIMAL is written with its own digits, never through a float: `11.7136` stays `11.7136`
in JSON (a number) and in CSV. `value` keeps the four places CBR publishes; a derived decimal
(`unit_rate`, an average, a cross rate) drops the trailing zeros of its fixed scale. Dates are
`YYYY-MM-DD`, times ISO 8601 in UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal

import duckdb
import pyarrow as pa

PUBLISHED = frozenset({"value"})
"""Decimal columns printed with every place of their scale, as the source publishes them."""
BATCH_ROWS = 4096


def text(value: object, column: str = "") -> str:
    """One value as text: what CSV cells and JSON numbers and strings hold."""
    if isinstance(value, Decimal):
        return _decimal(value, column)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def json_value(value: object, column: str = "") -> str:
    """One value as JSON text; a decimal as a JSON number with its exact digits."""
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return _decimal(value, column)
    if isinstance(value, bool | int):
        return json.dumps(value)
    if isinstance(value, float):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return json_object(value)
    return json.dumps(text(value), ensure_ascii=False)


def json_object(row: dict) -> str:
    return "{" + ",".join(f"{json.dumps(str(key))}:{json_value(value, str(key))}"
                          for key, value in row.items()) + "}"


def rows(source: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]) -> Iterator[dict]:
    """The rows of an Arrow table or batch stream, as dicts, batch by batch."""
    batches = source.to_batches(BATCH_ROWS) if isinstance(source, pa.Table) else source
    for batch in batches:
        maps = [field.name for field in batch.schema if pa.types.is_map(field.type)]
        for row in batch.to_pylist():
            for name in maps:  # Arrow gives a map as (key, value) pairs: JSON wants an object
                row[name] = dict(row[name]) if row[name] is not None else None
            yield row


def json_array(items: Iterable[dict]) -> Iterator[bytes]:
    """A JSON array, written as it goes (a full history streams instead of waiting)."""
    yield b"["
    first = True
    for item in items:
        yield (b"" if first else b",") + json_object(item).encode()
        first = False
    yield b"]"


def ndjson(items: Iterable[dict]) -> Iterator[bytes]:
    """One JSON object per line."""
    for item in items:
        yield json_object(item).encode() + b"\n"


def csv_lines(names: list[str], items: Iterable[dict]) -> Iterator[bytes]:
    """A header line, then a line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for count, item in enumerate(items, start=1):
        writer.writerow(["" if item[name] is None else _cell(item[name], name)
                         for name in names])
        if count % 1024 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def lines(relation: duckdb.DuckDBPyRelation, kind: str) -> Iterator[bytes]:
    """A relation's rows as JSON (an array), NDJSON or CSV, encoded by DuckDB as it reads them.

    The same text as `json_object` and `csv_lines` give, built in SQL: a full history is
    thousands of rows, which Python would spend most of a request formatting.
    """
    names, types = relation.columns, [str(kind_) for kind_ in relation.types]
    if kind == "csv":
        line = relation.project("concat_ws(',', " + ", ".join(
            _csv_sql(name, type_) for name, type_ in zip(names, types, strict=True)) + ")")
    else:
        line = relation.project("to_json(struct_pack(" + ", ".join(
            f'"{name}" := {_json_sql(name, type_)}'
            for name, type_ in zip(names, types, strict=True)) + "))")
    separator = {"csv": "\n", "ndjson": "\n", "json": ","}[kind]
    head = {"csv": ",".join(names) + "\n", "ndjson": "", "json": "["}[kind]
    yield head.encode()
    first = True
    for batch in line.to_arrow_reader(BATCH_ROWS):
        texts = batch.column(0).to_pylist()
        if not texts:
            continue
        chunk = separator.join(texts)
        if kind == "json":
            chunk = ("" if first else ",") + chunk
        else:
            chunk += "\n"
        first = False
        yield chunk.encode()
    if kind == "json":
        yield b"]"


def _trimmed_sql(column: str) -> str:
    """A decimal's text without the trailing zeros of its scale (11.713600000000 → 11.7136)."""
    text = f'CAST("{column}" AS VARCHAR)'
    return (f"CASE WHEN contains({text}, '.') THEN rtrim(rtrim({text}, '0'), '.') "
            f"ELSE {text} END")


def _json_sql(column: str, type_: str) -> str:
    if type_.startswith("DECIMAL") and column not in PUBLISHED:
        return f"CAST({_trimmed_sql(column)} AS JSON)"
    if type_.startswith("TIMESTAMP"):
        return f"strftime(timezone('UTC', \"{column}\"), '%Y-%m-%dT%H:%M:%S.%fZ')"
    return f'"{column}"'


def _csv_sql(column: str, type_: str) -> str:
    if type_.startswith("DECIMAL") and column not in PUBLISHED:
        return f"coalesce({_trimmed_sql(column)}, '')"
    if type_.endswith("[]"):
        return f"coalesce(array_to_string(\"{column}\", '|'), '')"
    if type_.startswith("TIMESTAMP"):
        return f"coalesce({_json_sql(column, type_)}, '')"
    if type_ == "VARCHAR":  # quoted when it holds a comma, a quote or a line break
        return (f"coalesce(CASE WHEN regexp_matches(\"{column}\", '[\",\\n\\r]') "
                f"THEN '\"' || replace(\"{column}\", '\"', '\"\"') || '\"' "
                f"ELSE \"{column}\" END, '')")
    return f"coalesce(CAST(\"{column}\" AS VARCHAR), '')"


def _cell(value: object, column: str) -> str:
    if isinstance(value, list | tuple):
        return "|".join(text(item) for item in value)
    return text(value, column)


def _decimal(value: Decimal, column: str) -> str:
    if column in PUBLISHED:
        return format(value, "f")
    digits = format(value, "f")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return digits
