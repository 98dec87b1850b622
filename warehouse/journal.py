"""Atomic commits of several files at once: stage, journal, rename, forget.

Each file is written to a temporary name beside its final place. On commit, the list of
renames is written to a journal (fsynced) before any rename happens; the journal is removed
when all are done. A process killed mid-commit leaves a journal, which the next writer
replays: the commit is then complete. A process killed before the journal leaves only
temporary files, which the next writer removes: the commit never happened. Either way no
reader ever sees a half-written file or a half-applied commit of one table's partitions.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

JOURNAL_DIR = "_journal"
TMP_SUFFIX = ".tmp"
FOREIGN_DIRS = ("prefect",)
"""Directories under the data directory that belong to other programs."""
PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True}


class Transaction:
    """Files staged for one atomic commit."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.id = uuid.uuid4().hex[:12]
        self._renames: list[tuple[Path, Path]] = []
        self.bytes_written = 0

    def stage_parquet(self, final: Path, table: pa.Table) -> None:
        """Write `table` beside `final` under a temporary name, to be renamed on commit."""
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{self.id}{TMP_SUFFIX}")
        pq.write_table(table, tmp, **PARQUET_OPTIONS)
        _fsync_file(tmp)
        self.bytes_written += tmp.stat().st_size
        self._renames.append((tmp, final))

    @property
    def staged(self) -> list[Path]:
        return [final for _, final in self._renames]

    def commit(self) -> None:
        if not self._renames:
            return
        journal = self.root / JOURNAL_DIR / f"{self.id}.json"
        journal.parent.mkdir(parents=True, exist_ok=True)
        entries = [[str(tmp.relative_to(self.root)), str(final.relative_to(self.root))]
                   for tmp, final in self._renames]
        tmp_journal = journal.with_suffix(TMP_SUFFIX)
        tmp_journal.write_text(json.dumps(entries))
        _fsync_file(tmp_journal)
        os.replace(tmp_journal, journal)
        _fsync_dir(journal.parent)
        _apply(self.root, entries)
        journal.unlink()
        self._renames.clear()

    def abort(self) -> None:
        for tmp, _ in self._renames:
            tmp.unlink(missing_ok=True)
        self._renames.clear()


def recover(root: Path) -> list[str]:
    """Finish interrupted commits and drop uncommitted temporary files; say what was done."""
    done: list[str] = []
    journal_dir = root / JOURNAL_DIR
    if journal_dir.is_dir():
        for journal in sorted(journal_dir.glob("*.json")):
            entries = json.loads(journal.read_text())
            _apply(root, entries)
            journal.unlink()
            done.append(f"completed interrupted commit {journal.stem} ({len(entries)} files)")
    for tmp in root.rglob(f"*{TMP_SUFFIX}"):
        relative = tmp.relative_to(root)
        # Only our own staging names: `.name.<id>.tmp`, or a journal being written. Other
        # tenants of the data directory (the Prefect server of `sco-etl serve`) are left be.
        ours = tmp.name.startswith(".") or relative.parts[0] == JOURNAL_DIR
        if ours and relative.parts[0] not in FOREIGN_DIRS:
            tmp.unlink()
            done.append(f"removed unfinished file {relative}")
    return done


def _apply(root: Path, entries: list[list[str]]) -> None:
    dirs = set()
    for tmp, final in entries:
        source = root / tmp
        if source.exists():  # already renamed if a replay was interrupted too
            os.replace(source, root / final)
        dirs.add((root / final).parent)
    for directory in dirs:
        _fsync_dir(directory)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
