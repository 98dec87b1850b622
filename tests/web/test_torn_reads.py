"""A run restates two values of one day while clients read that day's board from `sco-etl web`:
every answer has both values old or both new, never one of each; readers and the writer never
wait for each other.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from decimal import Decimal

import httpx
import pytest

from tests.fakes.web import FAST, web_server

DAY = dt.date(2025, 4, 2)
RESTATED = {"R01375": "CNY", "R01270": "INR"}
READERS = 6
BEFORE_RUN = 5
"""Answers each reader gets before the run starts, and after it committed."""


@pytest.fixture
def served(tmp_path, cbr_service, prefect_harness, monkeypatch):
    from sco_etl.flows.rates import ingest_rates

    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    data = tmp_path / "data"
    ingest_rates(start=DAY - dt.timedelta(days=7), end=DAY, data_dir=str(data),
                 cbr_url=cbr_service.url)
    with web_server(data) as url:
        yield data, url


def test_no_answer_mixes_the_old_and_the_new_values(served, cbr_service):
    from sco_etl.flows.rates import ingest_rates

    data, url = served
    values = cbr_service.history.values
    old = {cbr_id: values[cbr_id][DAY] for cbr_id in RESTATED}
    new = {cbr_id: (nominal, value + Decimal("0.5000")) for cbr_id, (nominal, value)
           in old.items()}
    answers: list[tuple[Decimal | None, Decimal | None]] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(READERS + 1)
    committed = threading.Event()

    def read() -> None:
        after = 0
        with httpx.Client(base_url=url, timeout=30) as client:
            for count in itertools.count():
                if count == BEFORE_RUN:
                    ready.wait()
                response = client.get("/api/v1/board", params={"date": DAY.isoformat()})
                if response.status_code != 200:
                    errors.append(response.text[:200])
                    continue
                rows = {row["char_code"]: Decimal(str(row["value"]))
                        for row in response.json()["rows"] if row["value"] is not None}
                with lock:
                    answers.append((rows.get("CNY"), rows.get("INR")))
                after += committed.is_set()
                if after >= BEFORE_RUN:
                    return

    threads = [threading.Thread(target=read) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=120)
        values["R01375"][DAY], values["R01270"][DAY] = new["R01375"], new["R01270"]
        summary = ingest_rates(start=DAY, end=DAY, data_dir=str(data), cbr_url=cbr_service.url)
        committed.set()
    finally:
        values["R01375"][DAY], values["R01270"][DAY] = old["R01375"], old["R01270"]
        committed.set()
        for thread in threads:
            thread.join(timeout=120)

    assert errors == []
    assert summary.updated == 2 and summary.revisions == 2
    before = (old["R01375"][1], old["R01270"][1])
    after = (new["R01375"][1], new["R01270"][1])
    assert set(answers) <= {before, after}, set(answers) - {before, after}
    assert before in answers and after in answers
