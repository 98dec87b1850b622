"""Crash safety of a rates backfill: SIGKILL the real flow at many points, then rerun.

Each scenario copies a warehouse holding two years of rates, runs `ingest_rates` over a longer
range in a subprocess that kills itself at one point (`tests/fakes/crash_run.py`), and checks:
a reader right after the kill sees exactly the snapshot before the run or exactly the one after
a clean run, never a mix; a writer can commit at once; maintenance deletes the files the
killed writer wrote but never committed; the rerun ends identical to a clean run (rows
compared, lineage aside) with no duplicate key, no lost row and no orphaned file.

The default run kills a short backfill at a few points; `-m slow` kills the full history
(1992 to tomorrow) at more.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from sco_etl.warehouse import Warehouse
from sco_etl.warehouse.maintenance import maintain
from tests.fakes.crash import KILLED, inspect_after_kill, run_flow, subprocess_env
from tests.fakes.reliability import (
    data_tables,
    duplicate_keys,
    leftovers,
    lock_is_free,
    lost_rows,
    partial_files,
    snapshot,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")

CURRENCIES = ["CNY", "KZT", "INR", "UZS", "BYN", "TRY"]
SHORT = {
    "before": {"start": "2021-01-01", "end": "2022-12-31", "currencies": ["CNY", "KZT"]},
    "run": {"start": "2019-01-01", "end": "2025-04-03", "currencies": ["CNY", "KZT"]},
}
LONG = {
    "before": {"start": "2020-01-01", "end": "2021-12-31", "currencies": CURRENCIES},
    "run": {"start": "1992-07-01", "end": None, "currencies": CURRENCIES},
}


def describe(point: str) -> str:
    name, _, n = point.partition(":")
    return {
        "http": f"at HTTP request #{n}, before any write",
        "begin": "just after the write transaction began, nothing written",
        "upsert": "after the rates upsert: its Parquet files on disk, nothing committed",
        "commit": "everything written and the commit counter bumped, just before COMMIT",
        "committed": "after the commit, before the flow finished",
    }[name]


class States:
    """The warehouse before the run (a directory) and the content before and after a clean
    run; `files` is how many files the clean run's commit wrote."""

    def __init__(self, factory, cbr_url: str, plan: dict, name: str) -> None:
        from sco_etl.flows.rates import ingest_rates

        base = factory.mktemp(name)
        self.root = base / "before"
        self.cbr_url = cbr_url
        ingest_rates(**_dates(plan["before"]), data_dir=str(self.root), cbr_url=cbr_url)
        clean = base / "clean"
        shutil.copytree(self.root, clean)
        old = {p: p.read_bytes() for p in self._files(clean)}
        ingest_rates(**_dates(plan["run"]), data_dir=str(clean), cbr_url=cbr_url)
        self.files = sum(1 for p in self._files(clean) if old.get(p) != p.read_bytes())
        self.before = snapshot(Warehouse(self.root))
        self.after = snapshot(Warehouse(clean))
        self.plan = plan

    @staticmethod
    def _files(root):
        return sorted(root.rglob("*.parquet"))


def _dates(kwargs: dict) -> dict:

    return {k: (dt.date.fromisoformat(v) if k in ("start", "end") and v else v)
            for k, v in kwargs.items()}


@pytest.fixture(scope="module")
def short_states(tmp_path_factory, cbr_service, prefect_harness):
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
        monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
        return States(tmp_path_factory, cbr_service.url, SHORT, "short")


@pytest.fixture(scope="module")
def long_states(tmp_path_factory, cbr_service, prefect_harness):
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
        monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
        return States(tmp_path_factory, cbr_service.url, LONG, "long")


def crash_and_rerun(states: States, kills: list[str], tmp_path, pycache, monkeypatch,
                    reliability, suite: str) -> None:
    """Kill a run at `kills[0]` (and each rerun at the next ones), then rerun cleanly."""
    from sco_etl.flows.rates import ingest_rates

    root = tmp_path / "data"
    shutil.copytree(states.root, root)
    env = subprocess_env(pycache, SCO_ETL_CBR_URL=states.cbr_url)
    kwargs = {**states.plan["run"], "data_dir": str(root), "cbr_url": states.cbr_url}
    seen = []
    for number, kill in enumerate(kills):
        result = run_flow("rates", kwargs, env, kill, tmp_path / f"run{number}.log")
        assert result.returncode == KILLED, (kill, result.returncode, result.stderr[-3000:])
        after_kill = inspect_after_kill(root, states.before, states.after, tmp_path)
        assert after_kill.lock_free, "a dead writer holds nothing"
        assert after_kill.unreadable == 0
        assert after_kill.visible in ("before", "after"), after_kill
        assert after_kill.recovered == after_kill.visible, after_kill
        assert after_kill.orphans_after_maintenance == 0, after_kill
        assert after_kill.rows_lost == 0
        seen.append(after_kill)
    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    ingest_rates(**_dates(states.plan["run"]), data_dir=str(root), cbr_url=states.cbr_url)
    warehouse = Warehouse(root)
    final = snapshot(warehouse)
    assert final == states.after
    assert duplicate_keys(warehouse) == {}
    maintain(warehouse, orphan_grace=dt.timedelta(0))
    assert snapshot(warehouse) == final
    assert leftovers(root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(root)
    first = seen[0]
    where = describe(kills[0]) + "".join(
        f"; the rerun killed in turn {describe(k)} (during its recovery)" for k in kills[1:])
    reliability.record(
        suite, " then ".join(kills), f"SIGKILL {where}",
        f"left {first.orphans} uncommitted file(s), deleted by maintenance; a reader at once "
        f"saw '{first.visible}' exactly; rerun equals a clean run, no duplicate key",
        rows_lost=lost_rows(states.after, final), partial_files=partial_files(root),
        kill_points=len(kills), tables=len(data_tables()))


SHORT_POINTS = ["upsert:1", "commit:1", "committed:1"]


@pytest.mark.parametrize("kill", SHORT_POINTS)
def test_short_backfill_killed_then_rerun_equals_a_clean_run(short_states, kill, tmp_path,
                                                             pycache, monkeypatch, reliability):
    assert short_states.files >= 4
    crash_and_rerun(short_states, [kill], tmp_path, pycache, monkeypatch, reliability,
                    "crash: rates backfill 2019-2025 (fast)")


LONG_POINTS = [[p] for p in (
    "http:1", "http:5", "begin:1", "upsert:1", "commit:1", "committed:1",
)] + [["commit:1", "upsert:1"], ["upsert:1", "commit:1"]]
"""Kill points over the full-history run; the last two kill the rerun too."""


@pytest.mark.slow
@pytest.mark.parametrize("kills", LONG_POINTS, ids=lambda k: "+".join(k))
def test_full_history_backfill_killed_then_rerun_equals_a_clean_run(
        long_states, kills, tmp_path, pycache, monkeypatch, reliability):
    assert long_states.files >= 25, long_states.files
    crash_and_rerun(long_states, kills, tmp_path, pycache, monkeypatch, reliability,
                    "crash: rates full-history backfill (slow)")
