"""One declaration per table: columns, types, key, partitioning and checks.

The Parquet schema, the DuckDB view and the validation all derive from a `Table`, so a column
is described exactly once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from schemas.checks import Rule
from schemas.errors import ValidationFailure

# Above this share of rejected records the source is broken, not the records: fail the run.
MAX_REJECT_SHARE = 0.5


@dataclass(frozen=True)
class Column:
    """A column of a table.

    Attributes:
        name: column name, part of the interface.
        type: Arrow type; also decides the Parquet and DuckDB types.
        nullable: whether a record may leave it empty.
        checks: pandera checks every value must pass.
        doc: one line for the README and the DuckDB comments.
    """

    name: str
    type: pa.DataType
    nullable: bool = False
    checks: tuple[Rule, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """A table of the warehouse.

    Attributes:
        name: table (and directory, and view) name.
        columns: the declared columns, in storage order.
        key: columns that identify a row; at most one row per key.
        partition_by: hive partition levels, `year` or `year` and `month`, derived from
            `partition_column`; empty for a single-file table.
        partition_column: the DATE or TIMESTAMP column the partition levels come from.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    partition_column: str | None = None
    doc: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def empty(self) -> pa.Table:
        return self.arrow_schema.empty_table()

    def pandera_schema(self):
        """The pandera schema of the declaration (pandera is imported only when validating)."""
        import pandas as pd
        import pandera.pandas as pandera

        return pandera.DataFrameSchema(
            {
                c.name: pandera.Column(
                    pd.ArrowDtype(c.type), checks=[_built(check) for check in c.checks],
                    nullable=c.nullable,
                )
                for c in self.columns
            },
            unique=list(self.key),
            strict=True,
            ordered=False,
        )


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
    """Split typed rows into valid rows and rejections with the reason of each.

    Exact duplicates of a key are merged; different records under one key are all rejected,
    since we cannot tell which one the source meant. `rejected` are records already refused
    upstream (unreadable, unrepresentable); they count towards the reject share.

    Raises:
        ValidationFailure: when more than half of a non-trivial batch is rejected.
    """
    import pandas as pd
    import pandera.pandas as pandera

    rejected = list(rejected or [])
    total = typed.num_rows + len(rejected)
    frame = typed.to_pandas(types_mapper=pd.ArrowDtype)
    frame = frame.drop_duplicates(ignore_index=True)
    try:
        table.pandera_schema().validate(frame, lazy=True)
        good = frame
    except pandera.errors.SchemaErrors as errors:
        bad = _reasons_by_row(errors.failure_cases, table)
        for index, reasons in bad.items():
            rejected.append(Rejection(_plain(frame.loc[index].to_dict()), "; ".join(reasons)))
        good = frame.drop(index=list(bad))
    rows = pa.Table.from_pandas(good, schema=table.arrow_schema, preserve_index=False)
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
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as e:
            rejected.append(Rejection(record, f"not representable in the schema: {e}"))
    return pa.Table.from_pylist(good, schema=schema), rejected


def _built(check: Any) -> Any:
    return check.build() if isinstance(check, Rule) else check


def _reasons_by_row(failure_cases, table: Table) -> dict[int, list[str]]:
    import pandas as pd

    reasons: dict[int, list[str]] = {}
    for case in failure_cases.itertuples():
        if pd.isna(case.index):
            raise ValidationFailure(
                f"{table.name}: column {case.column!r} failed {case.check!r} as a whole; "
                "the parser and the schema disagree, which is a bug to report"
            )
        check = "duplicate key " + "+".join(table.key) if "uniqueness" in str(case.check) else (
            f"{case.column} failed {case.check}"
        )
        reasons.setdefault(int(case.index), []).append(
            f"{check} (value {case.failure_case!r})" if case.column in table.column_names
            else check
        )
    return reasons


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    return {k: (None if v is pd.NA or v is None else v) for k, v in row.items()}
