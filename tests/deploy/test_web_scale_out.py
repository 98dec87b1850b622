"""Two `sco-etl web` instances on one PostgreSQL + S3 warehouse, while a run commits to it.

The app holds no state of its own, so two instances answer a request alike whenever they read
the same snapshot (each answer names it in `Sco-Snapshot`), before, during and after a commit.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import httpx
import pytest

from tests.fakes.web import web_server

pytestmark = pytest.mark.usefixtures("prefect_harness")

PATHS = ("/api/v1/board?date=2025-04-01", "/api/v1/rates?codes=CNY,INR&from=2025-03-25",
         "/api/v1/board?date=2024-06-04", "/2025-04-01", "/embed/board?date=2024-06-04")


def newer_than(snapshot: int, url: str, seconds: float = 10) -> httpx.Response:
    """The answer at `url` once it reads a snapshot after `snapshot`: right after a commit an
    instance may still answer from the one before while it computes the new answer."""
    deadline = time.monotonic() + seconds
    while True:
        response = httpx.get(url, timeout=30)
        if int(response.headers["sco-snapshot"]) > snapshot or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_two_instances_answer_alike_while_a_run_commits(shared_lake, cbr_service, monkeypatch,
                                                        tmp_path):
    from sco_etl.flows.rates import ingest_rates

    env, _warehouse = shared_lake
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    ingest_rates(start=dt.date(2025, 3, 25), end=dt.date(2025, 4, 5), cbr_url=cbr_service.url)
    served = {k: v for k, v in env.items() if k != "SCO_ETL_DATA_DIR"}
    with web_server(tmp_path / "one", **served) as one, \
            web_server(tmp_path / "two", **served) as two:
        pairs: list[tuple[str, str, str, bool]] = []
        errors: list[str] = []
        stop = threading.Event()

        def probe() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    for path in PATHS:
                        first, second = client.get(one + path), client.get(two + path)
                        if first.status_code != 200 or second.status_code != 200:
                            errors.append(f"{path}: {first.status_code}/{second.status_code}")
                            continue
                        pairs.append((path, first.headers["sco-snapshot"],
                                      second.headers["sco-snapshot"],
                                      first.content == second.content))

        readers = [threading.Thread(target=probe) for _ in range(2)]
        for thread in readers:
            thread.start()
        try:
            before = int(httpx.get(one + PATHS[0]).headers["sco-snapshot"])
            ingest_rates(start=dt.date(2024, 1, 1), end=dt.date(2025, 4, 5),
                         cbr_url=cbr_service.url, currencies=["CNY", "INR", "KZT"])
        finally:
            stop.set()
            for thread in readers:
                thread.join()
        final = [newer_than(before, server + PATHS[2]) for server in (one, two)]

    assert errors == []
    same_snapshot = [pair for pair in pairs if pair[1] == pair[2]]
    assert same_snapshot and all(pair[3] for pair in same_snapshot), [
        pair for pair in same_snapshot if not pair[3]][:3]
    snapshots = {int(pair[1]) for pair in same_snapshot}
    assert before in snapshots  # answers from before the commit, and after it:
    assert final[0].headers["sco-snapshot"] == final[1].headers["sco-snapshot"]
    assert int(final[0].headers["sco-snapshot"]) > before
    assert final[0].content == final[1].content
    june = final[0].json()
    assert june["publication_date"] == "2024-06-04"  # the run's rates, served by both
