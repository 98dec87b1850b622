"""One warehouse beyond one machine: a PostgreSQL catalog and S3 data files, several writers.

A throwaway PostgreSQL cluster and a moto S3 server run on loopback for the session. Two
flow runs in two processes (two "workers") write the same warehouse at once — each holds its
transaction open until both have written their rates, so their commits overlap for certain —
while a third process reads whole snapshots throughout. The result must equal the two runs
made one after the other into a local warehouse.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sco_etl.schemas import LOADS
from sco_etl.warehouse import Warehouse
from tests.fakes.crash import subprocess_env
from tests.fakes.reliability import REPO, duplicate_keys, orphaned_files, snapshot

pytestmark = pytest.mark.usefixtures("prefect_harness")

FIRST = {"start": "2024-01-01", "end": "2025-04-03", "currencies": ["CNY", "KZT"]}
SECOND = {"start": "2023-06-01", "end": "2025-04-03", "currencies": ["INR", "UZS"]}
TIMEOUT = 300


def _dates(plan: dict) -> dict:
    import datetime as dt

    return {k: (dt.date.fromisoformat(v) if k in ("start", "end") else v)
            for k, v in plan.items()}


def test_two_workers_and_a_reader_on_postgres_and_s3_equal_one_run(
        shared_lake, cbr_service, pycache, tmp_path, moto_s3, reliability):
    from sco_etl.flows.rates import ingest_rates

    env_lake, warehouse = shared_lake
    warehouse.migrate()  # as the first run would on a new database
    reference = Warehouse(tmp_path / "reference")
    for plan in (FIRST, SECOND):
        ingest_rates(**_dates(plan), data_dir=str(reference.root), cbr_url=cbr_service.url)

    barrier, stop = tmp_path / "barrier", tmp_path / "stop"
    barrier.mkdir()
    env = subprocess_env(pycache, SCO_ETL_CBR_URL=cbr_service.url, SCO_ETL_LOCK_TIMEOUT="120",
                         **env_lake)
    reader = subprocess.Popen([sys.executable, "-m", "tests.fakes.snapshot_reader", str(stop)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    workers = [subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.crash_run", json.dumps({"flow": "rates",
                                                                    "kwargs": plan})],
        cwd=REPO, env={**env, "SCO_ETL_TEST_BARRIER": f"{barrier}:2"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for plan in (FIRST, SECOND)]
    try:
        results = [worker.communicate(timeout=TIMEOUT) for worker in workers]
    finally:
        stop.touch()
        seen, reader_err = reader.communicate(timeout=TIMEOUT)
    for worker, (_, stderr) in zip(workers, results, strict=True):
        assert worker.returncode == 0, stderr[-3000:]
    assert reader.returncode == 0, reader_err[-3000:]
    reads = json.loads(seen)
    assert reads["torn"] == [] and reads["reads"] >= 2
    assert snapshot(warehouse) == snapshot(reference)
    assert duplicate_keys(warehouse) == {}
    loads = warehouse.read(LOADS).to_pylist()
    assert [r["status"] for r in loads] == ["completed", "completed"]
    keys = moto_s3.list_keys(warehouse.lake.data_path.split("/", 3)[3])
    assert any("/main/rates/year=2024/ducklake-" in key for key in keys)
    assert orphaned_files(warehouse) == []
    reliability.record(
        "scale-out", "two workers (processes) on a PostgreSQL catalog + S3 data path, a reader",
        "both hold their transactions open until both wrote their rates; a third process "
        "reads throughout",
        f"both completed (the second retried after the conflict); {reads['reads']} reads, "
        f"every one a whole snapshot ({len(reads['states'])} distinct states); result equals "
        "the two runs one after the other", rows_lost=0, partial_files=0)
