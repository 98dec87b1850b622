"""What the reliability suites measure, and where they write it for `docs/RELIABILITY.md`.

`snapshot` reads every table as sorted rows without lineage columns, so two warehouses can be
compared by content; `leftovers` finds what an interrupted write could leave behind; the
`reliability` fixture records one line per scenario, with the test's outcome, into
`.pytest_cache/reliability/` (or `SCO_ETL_RELIABILITY_RESULTS`), which
`tests/reliability/reliability_report.py` renders.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow.parquet as pq

from sco_etl.schemas import LOADS
from sco_etl.warehouse.ddl import BASE_TABLES, META_TABLE
from sco_etl.warehouse.lake import catalog_exists, connect
from sco_etl.warehouse.store import Warehouse

TMP_SUFFIX = ".tmp"

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = Path(os.environ.get("SCO_ETL_RELIABILITY_RESULTS")
                   or REPO / ".pytest_cache" / "reliability")
LINEAGE = frozenset({
    "loaded_at", "run_id", "first_seen_at", "updated_at", "quarantined_at", "revised_at",
    "checked_at", "status_since", "started_at", "finished_at", "old_run_id", "row_updated_at",
})
"""Columns that say when and by which run a row was written, not what it holds."""


def data_tables():
    """Every table but the loads ledger, which records each run by design."""
    return [t for t in BASE_TABLES if t.name != LOADS.name]


def snapshot(warehouse: Warehouse, tables=None) -> dict[str, list[tuple]]:
    """Each table's rows, lineage columns aside, sorted: equal content compares equal."""
    result = {}
    for table in tables or data_tables():
        columns = [c for c in table.column_names if c not in LINEAGE]
        rows = warehouse.read(table, columns=columns).to_pylist()
        result[table.name] = sorted((tuple(row[c] for c in columns) for row in rows), key=repr)
    return result


def data_files(warehouse: Warehouse) -> dict[str, bytes]:
    """The bytes of every data and delete file the current snapshot lists, loads aside."""
    files = {}
    with warehouse.reader() as connection:
        for table in data_tables():
            for data, deletes in connection.execute(
                    "SELECT data_file, delete_file FROM ducklake_list_files('sco', ?)",
                    [table.name]).fetchall():
                for path in filter(None, (data, deletes)):
                    files[str(Path(path).relative_to(warehouse.root))] = Path(path).read_bytes()
    return dict(sorted(files.items()))


def data_snapshots(warehouse: Warehouse, after: int) -> list[dict]:
    """The snapshots after `after` that changed any table but the loads ledger."""
    loads_id = None
    changed = []
    with warehouse.reader() as connection:
        loads_id = connection.execute(
            "SELECT table_id FROM __ducklake_metadata_sco.ducklake_table "
            "WHERE table_name = 'loads' AND end_snapshot IS NULL").fetchone()[0]
        for snapshot_id, changes in connection.execute(
                "SELECT snapshot_id, changes FROM sco.snapshots() WHERE snapshot_id > ? "
                "ORDER BY snapshot_id", [after]).fetchall():
            touched = {table for kind, tables in changes.items() for table in tables
                       if kind.startswith("tables_")} - {str(loads_id)}
            if touched:
                changed.append({"snapshot_id": snapshot_id, "changes": changes})
    return changed


def last_snapshot(warehouse: Warehouse) -> int:
    with warehouse.reader() as connection:
        return connection.execute("SELECT max(snapshot_id) FROM sco.snapshots()").fetchone()[0]


def lost_rows(reference: dict[str, list[tuple]], actual: dict[str, list[tuple]]) -> int:
    """Rows of `reference` missing from `actual` (a multiset difference over every table)."""
    lost = 0
    for name, rows in reference.items():
        have: dict[str, int] = {}
        for row in actual.get(name, []):
            have[repr(row)] = have.get(repr(row), 0) + 1
        for row in rows:
            if have.get(repr(row), 0):
                have[repr(row)] -= 1
            else:
                lost += 1
    return lost


def extra_rows(reference: dict[str, list[tuple]], actual: dict[str, list[tuple]]) -> int:
    return lost_rows(actual, reference)


def leftovers(root: Path, warehouse: Warehouse | None = None) -> dict[str, list[str]]:
    """Temporary files, unreadable Parquet files and data files no snapshot lists."""
    unreadable = []
    for path in root.rglob("*.parquet"):
        try:
            pq.read_metadata(path)
            pq.read_table(path)
        except Exception as e:  # any failure to read is what we count
            unreadable.append(f"{path.relative_to(root)}: {type(e).__name__}")
    return {
        "tmp": sorted(str(p.relative_to(root)) for p in root.rglob(f"*{TMP_SUFFIX}")
                      if "prefect" not in p.relative_to(root).parts),
        "orphans": orphaned_files(warehouse or Warehouse(root)),
        "unreadable": sorted(unreadable),
    }


def orphaned_files(warehouse: Warehouse) -> list[str]:
    """Data files in the data path that no snapshot of the catalog knows (a crashed writer's)."""
    if not catalog_exists(warehouse.lake):
        return []
    connection = connect(warehouse.lake)
    try:
        rows = connection.execute(
            "CALL ducklake_delete_orphaned_files('sco', dry_run => true, "
            "older_than => now() + INTERVAL 1 DAY)").fetchall()
    finally:
        connection.close()
    root = str(warehouse.root) + "/"
    return sorted(path.removeprefix(root) for (path,) in rows)


def partial_files(root: Path) -> int:
    """Files a reader could trip over: temporary or unreadable ones (orphans are whole files
    no snapshot lists, invisible to readers, removed by maintenance)."""
    found = leftovers(root)
    return len(found["tmp"]) + len(found["unreadable"])


def duplicate_keys(warehouse: Warehouse) -> dict[str, int]:
    """Per table, how many stored rows repeat a key (expected: none)."""
    duplicates = {}
    for table in BASE_TABLES:
        keys = warehouse.read(table, columns=list(table.key)).to_pylist()
        seen = {tuple(k.values()) for k in keys}
        if len(seen) != len(keys):
            duplicates[table.name] = len(keys) - len(seen)
    return duplicates


def lock_is_free(root: Path) -> bool:
    """Whether a new writer can commit at once: nothing a dead writer held is still held."""
    warehouse = Warehouse(root, lock_timeout=0)
    try:
        with warehouse.write() as writer:
            writer.connection.execute(f"UPDATE {META_TABLE} SET commits = commits")
    except Exception:  # any failure to write is what we report
        return False
    return True


def pycache_dir(request, factory) -> Path:
    """A bytecode cache for crash subprocesses, kept between sessions when pytest's cache is."""
    cache = getattr(request.config, "cache", None)
    return cache.mkdir("crash-pycache") if cache else factory.mktemp("crash-pycache")


class Recorder:
    """Scenario lines of one test; written at teardown with the test's outcome."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.lines: list[dict] = []

    def record(self, suite: str, scenario: str, injected: str, outcome: str, *,
               rows_lost: int | None = 0, partial_files: int | None = 0, **extra) -> None:
        """One row of the report: what was injected, what happened, what was lost."""
        self.lines.append({"suite": suite, "scenario": scenario, "injected": injected,
                           "outcome": outcome, "rows_lost": rows_lost,
                           "partial_files": partial_files, **extra})


def recording(request):
    """The body of each suite's `reliability` fixture: a `Recorder` whose lines are written
    after the test, with its pass/fail outcome.

    Each suite declares the fixture in two lines (`yield from recording(request)`), so that
    no suite imports a fixture by name.
    """
    recorder = Recorder(request.node.nodeid)
    failed_before = request.session.testsfailed
    yield recorder
    # The call phase is reported before teardown, so a failure is already counted here.
    passed = request.session.testsfailed == failed_before
    if not recorder.lines:
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-180:]
    with open(RESULTS_DIR / f"{name}.jsonl", "w", encoding="utf-8") as handle:
        for line in recorder.lines:
            handle.write(json.dumps({**line, "test": request.node.nodeid, "passed": passed},
                                    default=str, ensure_ascii=False) + "\n")


def plain_reader(warehouse: Warehouse):
    """A plain `duckdb.connect()` that ran what `sco-etl catalog` prints."""
    import duckdb

    connection = duckdb.connect()
    for statement in warehouse.lake.reader_statements():
        connection.execute(statement)
    return connection


def table_partitions(warehouse: Warehouse, table: str) -> list[str]:
    """The hive partitions holding the table's current files: `news/year=2020/month=1`."""
    prefix = "lake/main/"
    return sorted({str(Path(path).parent).removeprefix(prefix) for path in data_files(warehouse)
                   if path.startswith(f"{prefix}{table}/")})
