"""Pure merge rules: how incoming rows combine with the rows a partition already holds."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from schemas.table import Table

LINEAGE_COLUMNS = ("loaded_at", "run_id", "first_seen_at", "updated_at")
"""Columns that describe a write, not the data: a change there alone is no change."""


@dataclass
class Merged:
    """The outcome of merging incoming rows into one partition.

    Attributes:
        rows: the partition's new content, sorted by key; None when nothing changed.
        inserted: rows whose key was new.
        updated: rows whose key existed with different content.
        unchanged: rows that were already stored exactly so.
        replaced: the stored versions of the updated rows (for revision logs).
    """

    rows: pa.Table | None
    inserted: int
    updated: int
    unchanged: int
    replaced: pa.Table


def merge_by_key(table: Table, existing: pa.Table | None, incoming: pa.Table) -> Merged:
    """Upsert `incoming` into `existing` on `table.key`; stored lineage of unchanged rows stays."""
    schema = table.arrow_schema
    key = list(table.key)
    new = _frame(incoming).drop_duplicates(subset=key, keep="last").set_index(key)
    if existing is None or existing.num_rows == 0:
        rows = _sorted_table(new, schema)
        return Merged(rows, len(new), 0, 0, schema.empty_table())
    old = _frame(existing).set_index(key)
    compare = [c for c in table.column_names if c not in key and c not in LINEAGE_COLUMNS]
    common = new.index.intersection(old.index)
    changed = _differs(old.loc[common, compare], new.loc[common, compare])
    updated_keys = common[changed]
    inserted_keys = new.index.difference(old.index)
    if len(updated_keys) == 0 and len(inserted_keys) == 0:
        return Merged(None, 0, 0, len(common), schema.empty_table())
    replaced = old.loc[updated_keys]
    kept = old.drop(index=updated_keys)
    combined = pd.concat([kept, new.loc[updated_keys], new.loc[inserted_keys]])
    return Merged(
        _sorted_table(combined, schema),
        inserted=len(inserted_keys),
        updated=len(updated_keys),
        unchanged=len(common) - len(updated_keys),
        replaced=_sorted_table(replaced, schema),
    )


def append_distinct(table: Table, existing: pa.Table | None, incoming: pa.Table) -> pa.Table | None:
    """Add rows whose key is not stored yet, keeping stored rows as they are; None if none."""
    key = list(table.key)
    new = _frame(incoming).drop_duplicates(subset=key)
    if existing is not None and existing.num_rows:
        old = _frame(existing)
        known = pd.MultiIndex.from_frame(old[key]) if len(key) > 1 else pd.Index(old[key[0]])
        mine = pd.MultiIndex.from_frame(new[key]) if len(key) > 1 else pd.Index(new[key[0]])
        new = new[~mine.isin(known)]
        if new.empty:
            return None
        new = pd.concat([old, new], ignore_index=True)
    if new.empty:
        return None
    return pa.Table.from_pandas(new, schema=table.arrow_schema, preserve_index=False)


def drop_keys(table: Table, existing: pa.Table, doomed: pa.Table) -> pa.Table | None:
    """`existing` without the rows whose key is in `doomed`; None if none of them is there."""
    key = list(table.key)
    old = _frame(existing)
    gone = _frame(doomed)
    if len(key) > 1:
        stored, removed = pd.MultiIndex.from_frame(old[key]), pd.MultiIndex.from_frame(gone[key])
    else:
        stored, removed = pd.Index(old[key[0]]), pd.Index(gone[key[0]])
    hit = stored.isin(removed)
    if not hit.any():
        return None
    return pa.Table.from_pandas(old[~hit], schema=table.arrow_schema, preserve_index=False)


def _frame(rows: pa.Table) -> pd.DataFrame:
    return rows.to_pandas(types_mapper=pd.ArrowDtype)


def _differs(old: pd.DataFrame, new: pd.DataFrame) -> pd.Series:
    if old.empty:
        return pd.Series([], dtype=bool)
    both_missing = old.isna() & new.isna()
    unequal = (old != new).astype("boolean").fillna(True)
    return (unequal & ~both_missing).any(axis=1).to_numpy()


def _sorted_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    flat = frame.sort_index().reset_index()
    return pa.Table.from_pandas(flat[schema.names], schema=schema, preserve_index=False)
