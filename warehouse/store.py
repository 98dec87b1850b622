"""The warehouse verbs: read tables, and change them one DuckLake snapshot at a time."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa

from sco_etl.schemas import COUNTRY_TERMS, CURRENCY_LINEAGE, SCO_COUNTRIES
from sco_etl.schemas.errors import NoWarehouseError, WarehouseBusyError, WarehouseError
from sco_etl.schemas.mentions import country_terms
from sco_etl.schemas.reference import currency_lineage, sco_countries
from sco_etl.schemas.table import Table
from sco_etl.warehouse import ddl, merge
from sco_etl.warehouse.lake import (
    LakeSettings,
    catalog_exists,
    connect,
    quote,
    redacted,
)
from sco_etl.warehouse.merge import UpsertResult

log = logging.getLogger(__name__)
T = TypeVar("T")

CONFLICT_MARKERS = ("conflict", "database is locked", "could not serialize")
"""How DuckDB says another writer committed first (SQLite busy, PostgreSQL serialisation,
DuckLake's own conflict check); the transaction is then retried from the start."""
FIRST_RETRY_SECONDS = 0.05


class Warehouse:
    """The DuckLake warehouse: a catalog database plus hive-partitioned Parquet data files.

    Holds only settings (it pickles): every read and every transaction opens its own
    connection (a cursor of the process's DuckDB instance for this lake), so it can be passed
    to a task in another process or on another machine.
    """

    def __init__(self, root: Path | str, lock_timeout: float = 60.0,
                 lake: LakeSettings | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.lock_timeout = lock_timeout
        self.lake = lake or LakeSettings.local(self.root)
        self._exists = False
        self._migrated = False

    def read(self, table: Table, columns: list[str] | None = None, where: str | None = None,
             parameters: list | None = None) -> pa.Table:
        """Rows of `table` in the latest snapshot (optionally filtered by a SQL predicate)."""
        with self.reader() as connection:
            return read_table(connection, table, columns, where, parameters)

    def lookup(self, table: Table, column: str, values: pa.Array | list,
               columns: list[str] | None = None) -> pa.Table:
        """Rows of `table` in the latest snapshot whose `column` is one of `values`."""
        with self.reader() as connection:
            return lookup_rows(connection, table, column, values, columns)

    def distinct(self, table: Table, column: str) -> list:
        """The distinct values of one column in the latest snapshot, sorted."""
        with self.reader() as connection:
            return distinct_values(connection, table, column)

    def latest(self, table: Table, column: str):
        """The greatest value of one column in the latest snapshot, or None when empty."""
        with self.reader() as connection:
            return connection.execute(f'SELECT max("{column}") FROM "{table.name}"').fetchone()[0]

    @contextmanager
    def reader(self, known_at: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to one snapshot: the latest, or the one at `known_at`.

        Raises:
            NoWarehouseError: there is no warehouse yet; a reader never creates one.
        """
        self.require()
        connection = connect(self.lake, read_only=True, snapshot_time=known_at)
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def write(self, message: str | None = None) -> Iterator[Writer]:
        """One transaction: everything written in the block commits as one snapshot.

        An exception inside the block rolls everything back. A conflict with a writer that
        committed first raises `WarehouseBusyError`; `transaction` retries it.
        """
        self.migrate()
        connection = connect(self.lake)
        try:
            connection.execute("BEGIN TRANSACTION")
            writer = Writer(connection)
            yield writer
            writer.finish(message)
            connection.execute("COMMIT")
        except duckdb.Error as error:
            _rollback(connection)
            if is_conflict(error):
                raise WarehouseBusyError(f"another writer committed first: {error}") from error
            raise WarehouseError(f"the warehouse write failed: {error}") from error
        except BaseException:
            _rollback(connection)
            raise
        finally:
            connection.close()

    def transaction(self, work: Callable[[Writer], T], message: str | None = None) -> T:
        """Run `work` in one transaction, again from the start while another writer wins.

        Raises:
            WarehouseBusyError: other writers kept committing first for `lock_timeout` s.
        """
        deadline = time.monotonic() + self.lock_timeout
        delay = FIRST_RETRY_SECONDS
        attempt = 1
        while True:
            try:
                with self.write(message) as writer:
                    return work(writer)
            except WarehouseBusyError as error:
                if time.monotonic() + delay > deadline:
                    raise WarehouseBusyError(
                        f"other sco-etl runs kept writing to the warehouse for "
                        f"{self.lock_timeout:.0f} s ({attempt} attempts; last: {error}). "
                        "Nothing of this run was written: let them finish and run again, "
                        "or raise SCO_ETL_LOCK_TIMEOUT.") from error
                log.info("warehouse conflict, retrying (attempt %d): %s", attempt, error)
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 2.0)
                attempt += 1

    def migrate(self) -> None:
        """Create the warehouse, or bring its tables and views up to this version's
        declarations: the one schema step, taken where a writing run starts (and by the first
        write of a process). Readers never change a lake."""
        if self._migrated:
            return
        digest = ddl.schema_digest()
        stored = self._stored_schema(writer=True) if catalog_exists(self.lake) else None
        if ddl.needs_schema(stored, digest):
            self._apply_schema(digest)
        self._migrated = self._exists = True

    def require(self) -> None:
        """Check that the warehouse exists, creating nothing.

        Raises:
            NoWarehouseError: no catalog at the configured place, or no DuckLake catalog in it.
        """
        if self._exists or self._migrated:
            return
        stored = self._stored_schema(writer=False) if catalog_exists(self.lake) else None
        if stored is None:
            raise NoWarehouseError(
                f"no warehouse at {self.location} — `sco-etl rates` creates one, "
                "or set SCO_ETL_DATA_DIR")
        self._exists = True

    @property
    def location(self) -> str:
        """Where the warehouse is, for people: the data directory, or the catalog."""
        if self.lake.movable:
            return str(self.root)
        return redacted(self.lake.catalog)

    def _stored_schema(self, writer: bool) -> tuple[int, str] | None:
        try:
            # A writer asks through its own instance, which its later reads then share.
            connection = connect(self.lake, read_only=not writer)
        except WarehouseError:
            return None  # an empty PostgreSQL database: no DuckLake catalog in it yet
        try:
            return ddl.stored_schema(connection)
        finally:
            connection.close()

    def _apply_schema(self, digest: str) -> None:
        for _attempt in range(20):
            connection = connect(self.lake)
            try:
                connection.execute("BEGIN TRANSACTION")
                if ddl.needs_schema(ddl.stored_schema(connection), digest):
                    ddl.apply_schema(connection, digest)
                    # The shipped reference tables travel with the data.
                    writer = Writer(connection)
                    writer.replace(SCO_COUNTRIES, sco_countries())
                    writer.replace(CURRENCY_LINEAGE, currency_lineage())
                    writer.replace(COUNTRY_TERMS, country_terms())
                connection.execute("COMMIT")
                return
            except duckdb.Error as error:
                _rollback(connection)
                if not is_conflict(error):
                    raise WarehouseError(f"cannot create the warehouse schema: {error}") from error
                time.sleep(FIRST_RETRY_SECONDS * (1 + random.random()))
            finally:
                connection.close()
        raise WarehouseBusyError("could not create the warehouse schema: other writers kept "
                                 "changing it; run again")


class Writer:
    """The changes of one transaction; see `Warehouse.write`."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.changed: set[str] = set()
        self.rows_written = 0

    def read(self, table: Table, columns: list[str] | None = None, where: str | None = None,
             parameters: list | None = None) -> pa.Table:
        """Rows of `table` as this transaction sees them."""
        return read_table(self.connection, table, columns, where, parameters)

    def lookup(self, table: Table, column: str, values: pa.Array | list,
               columns: list[str] | None = None) -> pa.Table:
        """Rows of `table` whose `column` is one of `values`, as this transaction sees them."""
        return lookup_rows(self.connection, table, column, values, columns)

    def distinct(self, table: Table, column: str) -> list:
        """The distinct values of one column as this transaction sees them, sorted."""
        return distinct_values(self.connection, table, column)

    def upsert(self, table: Table, rows: pa.Table) -> UpsertResult:
        """Insert new keys, replace rows whose versioned columns changed (`Table.versioned`),
        leave the others (their lineage and unversioned columns) as stored."""
        result = merge.upsert(self.connection, table, rows)
        self._note(table, result.inserted + result.updated)
        return result

    def append(self, table: Table, rows: pa.Table) -> int:
        """Add rows whose key is not stored yet; return how many were added."""
        added = merge.insert_new(self.connection, table, rows)
        self._note(table, added)
        return added

    def delete(self, table: Table, rows: pa.Table) -> int:
        """Remove the stored rows with the keys of `rows`; return how many were removed."""
        removed = merge.delete_keys(self.connection, table, rows)
        self._note(table, removed)
        return removed

    def replace(self, table: Table, rows: pa.Table) -> bool:
        """Replace an unpartitioned table whole, if its content differs; say whether it did."""
        if table.partition_by:
            raise WarehouseError(f"{table.name} is partitioned; use upsert")
        replaced = merge.replace_all(self.connection, table, rows)
        self._note(table, rows.num_rows if replaced else 0)
        return replaced

    def finish(self, message: str | None) -> None:
        """Mark the snapshot: bump the commit counter when data changed, name the run."""
        if self.changed - {"loads", "quarantine"}:
            self.connection.execute(f"UPDATE {ddl.META_TABLE} SET commits = commits + 1")
        if message and self.changed:
            self.connection.execute(
                f"CALL sco.set_commit_message('sco-etl', {quote(message)})")

    def _note(self, table: Table, rows: int) -> None:
        if rows:
            self.changed.add(table.name)
            self.rows_written += rows


def read_table(connection: duckdb.DuckDBPyConnection, table: Table,
               columns: list[str] | None = None, where: str | None = None,
               parameters: list | None = None) -> pa.Table:
    names = columns or table.column_names
    selected = ", ".join(f'"{name}"' for name in names)
    sql = f'SELECT {selected} FROM "{table.name}"' + (f" WHERE {where}" if where else "")
    result = connection.execute(sql, parameters or []).to_arrow_table()
    schema = pa.schema([table.arrow_schema.field(name) for name in names])
    return result.cast(schema)


def lookup_rows(connection: duckdb.DuckDBPyConnection, table: Table, column: str,
                values: pa.Array | list, columns: list[str] | None = None) -> pa.Table:
    """`read_table` of the rows whose `column` is among `values`: a semi join with the values
    staged as an Arrow table, which stays fast for thousands of them."""
    names = columns or table.column_names
    wanted = pa.table({"value": pa.array(values, table.arrow_schema.field(column).type)})
    view = f"lookup_{uuid.uuid4().hex}"
    connection.register(view, wanted)
    try:
        selected = ", ".join(f't."{name}"' for name in names)
        result = connection.execute(
            f'SELECT {selected} FROM "{table.name}" t SEMI JOIN {view} w '
            f'ON t."{column}" = w.value').to_arrow_table()
    finally:
        connection.unregister(view)
    return result.cast(pa.schema([table.arrow_schema.field(name) for name in names]))


def distinct_values(connection: duckdb.DuckDBPyConnection, table: Table, column: str) -> list:
    return [value for (value,) in connection.execute(
        f'SELECT DISTINCT "{column}" FROM "{table.name}" ORDER BY 1').fetchall()]


def is_conflict(error: BaseException) -> bool:
    text = str(error)
    return any(marker in text for marker in CONFLICT_MARKERS)


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    # After a failed COMMIT no transaction is open any more: DuckDB rolled it back itself.
    with suppress(duckdb.Error):
        connection.execute("ROLLBACK")
