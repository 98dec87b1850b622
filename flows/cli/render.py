"""Rendering results for people (rich tables) and programs (CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pyarrow as pa
from rich.table import Table as RichTable


def as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def rich_table(rows: pa.Table, title: str | None = None,
               headers: dict[str, str] | None = None) -> RichTable:
    table = RichTable(title=title, show_lines=False)
    for name in rows.column_names:
        numeric = pa.types.is_decimal(rows.schema.field(name).type) or pa.types.is_integer(
            rows.schema.field(name).type)
        table.add_column((headers or {}).get(name, name), justify="right" if numeric else "left")
    for row in rows.to_pylist():
        table.add_row(*(as_text(v) for v in row.values()))
    return table


def as_csv(rows: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(rows.column_names)
    for row in rows.to_pylist():
        writer.writerow([as_text(v) for v in row.values()])
    return buffer.getvalue()


def as_json(rows: pa.Table) -> str:
    # Decimals as strings: exact, never rounded through a float.
    return json.dumps([{k: _json_value(v) for k, v in row.items()} for row in rows.to_pylist()],
                      ensure_ascii=False, indent=1)


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)
