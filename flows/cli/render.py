"""Rendering results for people (tables that fit the terminal) and programs (CSV, JSON).

A table wider than the terminal first lets rich wrap its cells at word boundaries; when even
that would cut a word (a URL, a long message, many columns at 80 columns), each row is printed
as a block of `column  value` lines instead, which stays readable at any width.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.table import Table as RichTable
from rich.text import Text

UNBOUNDED = 100_000

if TYPE_CHECKING:
    import pyarrow as pa

    from sco_etl.flows.cli.common import Format


def as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def as_words(rows: pa.Table, column: str) -> pa.Table:
    """`rows` with the underscores of a text column read as spaces (`dialogue_partner`)."""
    import pyarrow.compute as pc

    index = rows.column_names.index(column)
    return rows.set_column(index, column, pc.replace_substring(rows[column], "_", " "))


def rich_table(rows: pa.Table, title: str | None = None,
               headers: dict[str, str] | None = None) -> RichTable:
    """The rows as a rich table: numbers right-aligned, headers renamed by `headers`."""
    table = RichTable(title=title, show_lines=False)
    for index, name in enumerate(rows.column_names):
        table.add_column((headers or {}).get(name, name),
                         justify="right" if _numeric(rows, index) else "left")
    for row in _tuples(rows):
        table.add_row(*(Text(as_text(v)) for v in row))
    return table


def folded(rows: pa.Table, title: str | None = None,
           headers: dict[str, str] | None = None) -> Group:
    """One block per row, a `column  value` line per column (a long value wraps under
    itself): any number of columns fits any width."""
    names = [(headers or {}).get(name, name) for name in rows.column_names]
    parts: list = [Text(title, style="italic")] if title else []
    for number, row in enumerate(_tuples(rows), start=1):
        block = RichTable.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for name, value in zip(names, row, strict=True):
            block.add_row(name, Text(as_text(value)))
        parts += [Text(f"── {number} ──", style="dim"), block]
    if not rows.num_rows:
        parts.append(Text("(no rows)", style="dim"))
    return Group(*parts)


def fitted(console: Console, rows: pa.Table, title: str | None = None,
           headers: dict[str, str] | None = None) -> RichTable | Group:
    """A table when it fits the console's width with words whole, else `folded` rows."""
    table = rich_table(rows, title, headers)
    # Measured without the console's width, which would cap the measurement at that width.
    if table.__rich_measure__(console, console.options.update(width=UNBOUNDED)).minimum <= (
            console.width):
        return table
    return folded(rows, title, headers)


def print_rows(console: Console, rows: pa.Table, format: Format = None,
               title: str | None = None, headers: dict[str, str] | None = None) -> None:
    """`rows` in the chosen format: a fitted table, or CSV / JSON on standard output."""
    chosen = getattr(format, "value", format) or "table"
    if chosen == "csv":
        console.file.write(as_csv(rows))
    elif chosen == "json":
        console.file.write(as_json(rows) + "\n")
    else:
        console.print(fitted(console, rows, title, headers))


def print_sections(console: Console, sections: Sequence[tuple[str, pa.Table]],
                   format: Format = None) -> None:
    """Several named tables: fitted tables, or one JSON object of row lists; CSV gets the
    first (the command's main answer)."""
    chosen = getattr(format, "value", format) or "table"
    if chosen == "json":
        console.file.write(json.dumps({name: _rows(rows) for name, rows in sections},
                                      ensure_ascii=False, indent=1) + "\n")
    elif chosen == "csv":
        console.file.write(as_csv(sections[0][1]))
    else:
        for name, rows in sections:
            console.print(fitted(console, rows, name))


def as_csv(rows: pa.Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(rows.column_names)
    for row in _tuples(rows):
        writer.writerow([as_text(v) for v in row])
    return buffer.getvalue()


def as_json(rows: pa.Table) -> str:
    # Decimals as strings: exact, never rounded through a float.
    return json.dumps(_rows(rows), ensure_ascii=False, indent=1)


def json_value(value: object) -> object:
    """A value as JSON holds it: decimals as exact strings, dates and times in ISO."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _rows(rows: pa.Table) -> list[dict]:
    names = _unique(rows.column_names)
    return [dict(zip(names, (json_value(v) for v in row), strict=True))
            for row in _tuples(rows)]


def _tuples(rows: pa.Table) -> list[tuple]:
    """The rows as tuples: a query may name two columns alike (`SELECT * FROM a, b`)."""
    return list(zip(*(column.to_pylist() for column in rows.columns), strict=True))


def _unique(names: list[str]) -> list[str]:
    """Column names for JSON keys: a repeated name gets `_2`, `_3`, …"""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def _numeric(rows: pa.Table, index: int) -> bool:
    import pyarrow as pa

    kind = rows.schema.field(index).type
    return pa.types.is_decimal(kind) or pa.types.is_integer(kind)
