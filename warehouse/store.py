"""The warehouse verbs: read tables, and write them one atomic transaction at a time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from schemas import CURRENCY_LINEAGE, SCO_COUNTRIES
from schemas.errors import WarehouseError
from schemas.reference import currency_lineage, sco_countries
from schemas.table import Table
from warehouse import catalog
from warehouse.journal import Transaction, recover
from warehouse.layout import partition_path, split_by_partition, table_dir
from warehouse.lock import WriterLock
from warehouse.merge import Merged, append_distinct, drop_keys, merge_by_key

log = logging.getLogger(__name__)


@dataclass
class UpsertResult:
    """What an upsert did: counts, the stored versions it replaced, the partitions it rewrote."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    replaced: list[pa.Table] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.inserted + self.updated


class Warehouse:
    """A data directory of hive-partitioned Parquet tables plus the DuckDB catalog over them."""

    def __init__(self, root: Path | str, lock_timeout: float = 60.0) -> None:
        self.root = Path(root).resolve()
        self.lock_timeout = lock_timeout

    @property
    def catalog_path(self) -> Path:
        return self.root / catalog.CATALOG_FILE

    def read(self, table: Table, columns: list[str] | None = None) -> pa.Table:
        """Every stored row of `table` (committed files only)."""
        return self.dataset(table).to_table(columns=columns or table.column_names)

    def dataset(self, table: Table) -> ds.Dataset:
        """The committed files of `table` as an Arrow dataset, read lazily (temporary files,
        named `.…tmp`, and the `_journal` are never part of it)."""
        directory = table_dir(self.root, table)
        if not directory.exists():
            return ds.dataset(table.empty())
        return ds.dataset(
            directory, format="parquet", schema=table.arrow_schema,
            partitioning="hive" if table.partition_by else None,
            exclude_invalid_files=False,
        )

    @contextmanager
    def write(self) -> Iterator[Writer]:
        """Hold the writer lock, stage writes, and commit them all at once on success.

        An exception inside the block discards every staged write: the warehouse stays as it
        was. The DuckDB catalog is rebuilt after a commit that changed anything.
        """
        with WriterLock(self.root, self.lock_timeout):
            for action in recover(self.root):
                log.warning("warehouse recovery: %s", action)
            writer = Writer(self.root)
            yield writer
            # The shipped reference tables travel with the data, so Parquet readers have them.
            writer.replace(SCO_COUNTRIES, sco_countries())
            writer.replace(CURRENCY_LINEAGE, currency_lineage())
            writer.commit()
            catalog.build(self.root)

    def ensure_catalog(self) -> Path:
        """Build the DuckDB catalog if it does not exist yet (a fresh data directory)."""
        if not self.catalog_path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            catalog.build(self.root)
        return self.catalog_path


class Writer:
    """Staged writes of one transaction; see `Warehouse.write`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pending: dict[Path, pa.Table] = {}
        self.bytes_written = 0

    def upsert(self, table: Table, rows: pa.Table) -> UpsertResult:
        """Insert new keys, replace changed ones, leave identical ones (and their lineage) alone.

        Only partitions whose content changes are rewritten.
        """
        result = UpsertResult()
        for values, part in split_by_partition(table, rows).items():
            path = partition_path(self.root, table, values)
            merged: Merged = merge_by_key(table, self._current(path, table), part)
            result.inserted += merged.inserted
            result.updated += merged.updated
            result.unchanged += merged.unchanged
            if merged.replaced.num_rows:
                result.replaced.append(merged.replaced)
            if merged.rows is not None:
                self._pending[path] = merged.rows
                result.partitions.append(str(path.parent.relative_to(self.root)))
        return result

    def append(self, table: Table, rows: pa.Table) -> int:
        """Add rows whose key is not stored yet; return how many were added."""
        added = 0
        for values, part in split_by_partition(table, rows).items():
            path = partition_path(self.root, table, values)
            current = self._current(path, table)
            combined = append_distinct(table, current, part)
            if combined is not None:
                added += combined.num_rows - (current.num_rows if current is not None else 0)
                self._pending[path] = combined
        return added

    def delete(self, table: Table, rows: pa.Table) -> int:
        """Remove the stored rows with the keys of `rows`, from the partitions `rows` fall in.

        For a row whose partition column changed (a news item re-dated): delete the stored
        version from its old partition, then upsert the new one.
        """
        removed = 0
        for values, part in split_by_partition(table, rows).items():
            path = partition_path(self.root, table, values)
            current = self._current(path, table)
            kept = None if current is None else drop_keys(table, current, part)
            if kept is not None:
                removed += current.num_rows - kept.num_rows
                self._pending[path] = kept
        return removed

    def replace(self, table: Table, rows: pa.Table) -> bool:
        """Replace an unpartitioned table whole, if its content differs; say whether it did."""
        if table.partition_by:
            raise WarehouseError(f"{table.name} is partitioned; use upsert")
        path = partition_path(self.root, table, ())
        rows = rows.cast(table.arrow_schema).sort_by([(k, "ascending") for k in table.key])
        current = self._current(path, table)
        if current is not None and current.equals(rows):
            return False
        self._pending[path] = rows
        return True

    def commit(self) -> None:
        if not self._pending:
            return
        transaction = Transaction(self.root)
        try:
            for path, rows in self._pending.items():
                transaction.stage_parquet(path, rows)
            transaction.commit()
        except BaseException:
            transaction.abort()
            raise
        self.bytes_written += transaction.bytes_written
        self._pending.clear()

    @property
    def pending_paths(self) -> list[Path]:
        return list(self._pending)

    def _current(self, path: Path, table: Table) -> pa.Table | None:
        if path in self._pending:
            return self._pending[path]
        if not path.exists():
            return None
        try:
            return pq.read_table(path, schema=table.arrow_schema)
        except (pa.ArrowInvalid, OSError) as e:
            raise WarehouseError(
                f"cannot read {path}: {e}. Restore it from a backup or delete it and re-run "
                "the ingestion for that period."
            ) from e
