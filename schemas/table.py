"""One declaration per table: columns, types, key, partitioning and checks.

The Parquet schema, the DuckDB view and the validation all derive from a `Table`, so a column
is described exactly once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sco_etl.schemas.checks import Rule, shown
from sco_etl.schemas.errors import ValidationFailure

# Above this share of rejected records the source is broken, not the records: fail the run.
MAX_REJECT_SHARE = 0.5
ROW_NUMBER = "__row_number"
"""A column added while validating, to tell rows apart; no declared column may use it."""
NUMBERS = {2: "two", 3: "three", 4: "four"}
"""How a reason counts the records sharing a key."""
LINEAGE_COLUMNS = ("loaded_at", "run_id", "first_seen_at", "updated_at")
"""Columns that describe a write, not the data: a change there alone is no change."""
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    """A column: its Arrow type also decides the Parquet and DuckDB types."""

    name: str
    type: pa.DataType
    nullable: bool = False
    checks: tuple[Rule, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """A table of the warehouse: columns in storage order, the key (one row per key), the
    hive partition levels (`year`, or `year` and `month`) of `partition_column`.

    `versioned` are the columns whose change makes a new version of a stored row (a revision);
    a row that differs only elsewhere (metadata from another source, lineage) is left as
    stored. None: every column but the key and lineage.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    partition_column: str | None = None
    doc: str = ""
    versioned: tuple[str, ...] | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    @property
    def versioned_columns(self) -> list[str]:
        """The columns an upsert compares: a difference there is a new version of the row."""
        if self.versioned is not None:
            return list(self.versioned)
        return [c for c in self.column_names if c not in self.key and c not in LINEAGE_COLUMNS]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def empty(self) -> pa.Table:
        return self.arrow_schema.empty_table()


@dataclass
class Rejection:
    """A record that failed its schema, on its way to the quarantine table."""

    record: dict[str, Any]
    reason: str

    def record_json(self) -> str:
        return json.dumps(self.record, default=str, ensure_ascii=False, sort_keys=True)


@dataclass
class Validated:
    """The result of validating a batch: good rows go on, rejected rows go to quarantine."""

    rows: pa.Table
    rejected: list[Rejection]


def validate(table: Table, typed: pa.Table, rejected: list[Rejection] | None = None) -> Validated:
    """Split typed rows into valid rows (input order, declared schema) and rejections.

    Exact duplicates are merged; different records under one key are all rejected, since we
    cannot tell which one the source meant (a source that can tell resolves them first).
    `rejected`, records refused upstream, count towards the reject share: above half of a
    batch of ten or more, or with undeclared columns, it raises ValidationFailure.
    """
    rejected = list(rejected or [])
    total = typed.num_rows + len(rejected)
    rows = _merge_exact_duplicates(_declared(table, typed))
    reasons = _reasons_by_row(table, rows)
    if reasons:
        bad = sorted(reasons)
        for index, record in zip(bad, rows.take(bad).to_pylist(), strict=True):
            rejected.append(Rejection(record, "; ".join(reasons[index])))
        is_bad = pc.is_in(_row_numbers(rows.num_rows), value_set=pa.array(bad, pa.uint64()))
        rows = rows.filter(pc.invert(is_bad))
    if total >= 10 and len(rejected) > MAX_REJECT_SHARE * total:
        raise ValidationFailure(
            f"{len(rejected)} of {total} {table.name} records failed validation "
            f"(first: {rejected[0].reason}); the source looks broken, nothing was written"
        )
    return Validated(rows, rejected)


def to_arrow(table: Table, records: list[dict[str, Any]]) -> tuple[pa.Table, list[Rejection]]:
    """Records as an Arrow table of the declared schema, and those that cannot be typed."""
    schema = table.arrow_schema
    try:
        return pa.Table.from_pylist(records, schema=schema), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    # Slow path only for a batch holding a record Arrow cannot represent: find which.
    good, rejected = [], []
    for record in records:
        try:
            pa.Table.from_pylist([record], schema=schema)
            good.append(record)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            rejected.append(Rejection(record, _unrepresentable(schema, record)))
    return pa.Table.from_pylist(good, schema=schema), rejected


def _unrepresentable(schema: pa.Schema, record: dict[str, Any]) -> str:
    for column in schema:
        value = record.get(column.name)
        try:
            pa.array([value], column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            return f"{column.name} {shown(value)} does not fit its column ({column.type})"
    return "the record does not fit the table's columns"


def _declared(table: Table, typed: pa.Table) -> pa.Table:
    missing = set(table.column_names) - set(typed.column_names)
    extra = set(typed.column_names) - set(table.column_names)
    if missing or extra:
        raise ValidationFailure(
            f"{table.name}: columns missing {sorted(missing)}, undeclared {sorted(extra)}; "
            "the parser and the schema disagree, which is a bug to report"
        )
    typed = typed.select(table.column_names)
    if typed.schema == table.arrow_schema:
        return typed
    # Not `Table.cast`: it refuses a null in a non-nullable field, which must reach the checks.
    schema = table.arrow_schema
    return pa.Table.from_arrays([typed[f.name].cast(f.type) for f in schema], schema=schema)


def _merge_exact_duplicates(rows: pa.Table) -> pa.Table:
    """The first of each set of identical rows, in input order."""
    firsts = _numbered(rows).group_by(rows.column_names, use_threads=False).aggregate(
        [(ROW_NUMBER, "min")])[f"{ROW_NUMBER}_min"]
    if len(firsts) == rows.num_rows:
        return rows
    return rows.take(firsts.sort())


def _reasons_by_row(table: Table, rows: pa.Table) -> dict[int, list[str]]:
    """Why each failing row fails, by row number: a shared key first, then columns in order."""
    reasons: dict[int, list[str]] = {}
    for indices in _rows_sharing_a_key(table, rows):
        key = ", ".join(f"{name} {_plain(rows[name][indices[0]].as_py())}" for name in table.key)
        count = NUMBERS.get(len(indices), str(len(indices)))
        for index in indices:
            reasons[index] = [f"{count} different records for {key}"]
    for column in table.columns:
        values = rows[column.name]
        if not column.nullable:
            for index in pc.indices_nonzero(pc.is_null(values)).to_pylist():
                reasons.setdefault(index, []).append(f"{column.name} is missing")
        for rule in column.checks:
            failed = pc.indices_nonzero(pc.invert(rule.passes(values)))
            for index, value in zip(failed.to_pylist(), values.take(failed).to_pylist(),
                                    strict=True):
                reasons.setdefault(index, []).append(rule.reason(column.name, value))
    return reasons


def _plain(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _rows_sharing_a_key(table: Table, rows: pa.Table) -> list[list[int]]:
    """The row numbers of each key held by more than one (different) row."""
    groups = _numbered(rows).group_by(list(table.key), use_threads=False).aggregate(
        [(ROW_NUMBER, "count"), (ROW_NUMBER, "list")])
    shared = groups.filter(pc.greater(groups[f"{ROW_NUMBER}_count"], 1))
    return [sorted(indices) for indices in shared[f"{ROW_NUMBER}_list"].to_pylist()]


def _numbered(rows: pa.Table) -> pa.Table:
    return rows.append_column(ROW_NUMBER, _row_numbers(rows.num_rows))


def _row_numbers(count: int) -> pa.Array:
    # Arrow has no arange: the indices of an all-true mask are 0 … count-1, made in C.
    return pc.indices_nonzero(pa.repeat(True, count))
