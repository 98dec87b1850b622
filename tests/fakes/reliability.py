"""What the reliability suites measure, and where they write it for `docs/RELIABILITY.md`.

`snapshot` reads every table as sorted rows without lineage columns, so two warehouses can be
compared by content; `leftovers` finds what an interrupted write could leave behind; the
`reliability` fixture records one line per scenario, with the test's outcome, into
`.pytest_cache/reliability/` (or `SCO_ETL_RELIABILITY_RESULTS`), which
`tests/reliability_report.py` renders.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow.parquet as pq

from schemas import LOADS
from schemas.errors import WarehouseBusyError
from warehouse.catalog import BASE_TABLES
from warehouse.journal import JOURNAL_DIR, TMP_SUFFIX
from warehouse.lock import WriterLock
from warehouse.store import Warehouse

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = Path(os.environ.get("SCO_ETL_RELIABILITY_RESULTS")
                   or REPO / ".pytest_cache" / "reliability")
LINEAGE = frozenset({
    "loaded_at", "run_id", "first_seen_at", "updated_at", "quarantined_at", "revised_at",
    "checked_at", "status_since", "started_at", "finished_at", "old_run_id",
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
    """Every Parquet file's bytes, the loads ledger aside."""
    return {str(p.relative_to(warehouse.root)): p.read_bytes()
            for p in sorted(warehouse.root.rglob("*.parquet"))
            if p.relative_to(warehouse.root).parts[0] != LOADS.name}


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


def leftovers(root: Path) -> dict[str, list[str]]:
    """Temporary files, pending journals and unreadable Parquet files under `root`."""
    unreadable = []
    for path in root.rglob("*.parquet"):
        try:
            pq.read_metadata(path)
            pq.read_table(path)
        except Exception as e:  # any failure to read is what we count
            unreadable.append(f"{path.relative_to(root)}: {type(e).__name__}")
    return {
        "tmp": sorted(str(p.relative_to(root)) for p in root.rglob(f"*{TMP_SUFFIX}")),
        "journal": sorted(str(p.relative_to(root)) for p in (root / JOURNAL_DIR).glob("*"))
        if (root / JOURNAL_DIR).is_dir() else [],
        "unreadable": sorted(unreadable),
    }


def partial_files(root: Path) -> int:
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
    lock = WriterLock(root, timeout=0)
    try:
        lock.acquire()
    except WarehouseBusyError:
        return False
    lock.release()
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
