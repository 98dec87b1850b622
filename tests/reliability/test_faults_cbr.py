"""Fault injection against the fake CBR: every failure a source can show, through `ingest_rates`.

Each request goes through a raw-socket front (`tests/fakes/raw_http.py`) to the fake CBR; the
faults are those of `tests/fakes/faults.py`. For each: a transient fault is retried and the run
then succeeds with the warehouse exactly as a clean run leaves it; a persistent one ends the run
with a clear message and leaves every data file byte-identical (the loads ledger records the
failed run, by design); no temporary file is left.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import re
import shutil
import time
from dataclasses import dataclass

import pytest
from werkzeug import Response

from sco_etl.schemas import LOADS
from sco_etl.schemas.errors import TransientSourceError
from sco_etl.warehouse import Warehouse
from tests.fakes.cbr_server import body, status
from tests.fakes.faults import (
    FAULTS,
    HTML_ERROR_PAGE,
    RAW,
    READ_TIMEOUT,
    TRANSIENT,
    Fault,
    _short,
    fast_env,
    redirect_loop,
)
from tests.fakes.raw_http import FaultyFront, RawFault
from tests.fakes.reliability import (
    data_files,
    leftovers,
    lock_is_free,
    lost_rows,
    partial_files,
    snapshot,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


DYNAMIC = "XML_dynamic.asp"
BEFORE = {"start": dt.date(2025, 3, 20), "end": dt.date(2025, 3, 31), "currencies": ["CNY", "KZT"]}
WINDOW = {"start": dt.date(2025, 3, 28), "end": dt.date(2025, 4, 3), "currencies": ["CNY", "KZT"]}
"""Two currency IDs over a week: two XML_dynamic documents, after the directory (d=0, d=1)."""


@dataclass
class CbrCase:
    warehouse: Warehouse
    front: FaultyFront
    fake: object

    def inject(self, fault: Fault, times: int, path: str = DYNAMIC) -> None:
        if fault.kind in RAW:
            self.front.faults.extend([RawFault(RAW[fault.kind], path)] * times)
        elif fault.kind == "redirect-loop":
            self.fake.faults.extend([redirect_loop(path)] * 10 * times)
        else:
            self.fake.faults.extend([cbr_fault(fault.kind, path)] * times)

    def run(self) -> dict:
        from sco_etl.flows.rates import ingest_rates

        return ingest_rates(**WINDOW, data_dir=str(self.warehouse.root),
                            cbr_url=self.front.url("/scripts/"))


def cbr_fault(kind: str, path: str):
    if kind in ("500", "503"):
        return status(int(kind), path=path)
    if kind == "429":
        return status(429, {"Retry-After": "0"}, path=path)
    if kind == "empty":
        return body(b"", "application/xml; charset=windows-1251", path=path)
    if kind == "html-200":
        return body(HTML_ERROR_PAGE, path=path)
    if kind == "wrong-encoding":
        # What a misconfigured proxy does: re-encodes to UTF-8, keeps the declaration.
        document = ('<?xml version="1.0" encoding="windows-1251"?>'
                    '<ValCurs ID="R01375" DateRange1="28.03.2025" DateRange2="03.04.2025" '
                    'name="Иностранная валюта Индийская рупия">'
                    '<Record Date="01.04.2025" Id="R01375"><Nominal>1</Nominal>'
                    "<Value>11,7136</Value></Record></ValCurs>")
        return body(document.encode("utf-8"), "application/xml; charset=windows-1251",
                    path=path)
    raise ValueError(kind)


@pytest.fixture(scope="module")
def cbr_states(tmp_path_factory, cbr_service, prefect_harness):
    """A warehouse with rates up to 31 March, and the content a clean run of WINDOW gives it."""
    from sco_etl.flows.rates import ingest_rates

    with pytest.MonkeyPatch.context() as monkeypatch:
        fast_env(monkeypatch)
        cbr_service.faults.clear()
        before = tmp_path_factory.mktemp("cbr") / "before"
        ingest_rates(**BEFORE, data_dir=str(before), cbr_url=cbr_service.url)
        after = before.parent / "after"
        shutil.copytree(before, after)
        summary = ingest_rates(**WINDOW, data_dir=str(after), cbr_url=cbr_service.url)
    assert summary.inserted > 0
    return before, snapshot(Warehouse(after))


@pytest.fixture
def cbr(cbr_states, fake_cbr, tmp_path, monkeypatch):
    fast_env(monkeypatch)
    root = tmp_path / "data"
    shutil.copytree(cbr_states[0], root)
    upstream = fake_cbr.url.split("/scripts/")[0]
    with FaultyFront(upstream, hang_seconds=READ_TIMEOUT * 3) as front:
        yield CbrCase(Warehouse(root, lock_timeout=5), front, fake_cbr)


@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f.kind)
def test_cbr_transient_fault_is_retried_then_the_run_succeeds(cbr, cbr_states, fault,
                                                              reliability):
    cbr.inject(fault, times=2)
    summary = cbr.run()
    attempts = cbr.front.actions(DYNAMIC)
    # Two documents, two faults: four requests, each fault followed by a retry.
    assert len(attempts) == 4
    after = snapshot(cbr.warehouse)
    assert after == cbr_states[1]
    assert summary.inserted == 6  # 1-3 April for CNY and KZT
    assert [r["status"] for r in cbr.warehouse.read(LOADS).to_pylist()][-1] == "completed"
    assert leftovers(cbr.warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(cbr.warehouse.root)
    reliability.record(
        "faults: CBR", f"{fault.kind}, twice, then served", fault.injected,
        f"retried ({len(attempts)} requests for 2 documents); run completed; "
        "warehouse equals a clean run",
        rows_lost=lost_rows(cbr_states[1], after), partial_files=partial_files(cbr.warehouse.root))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.kind)
def test_cbr_persistent_fault_ends_the_run_clearly_and_changes_no_data(cbr, fault,
                                                                       reliability):
    before = data_files(cbr.warehouse)
    before_rows = snapshot(cbr.warehouse)
    loads_before = cbr.warehouse.read(LOADS).num_rows
    cbr.inject(fault, times=12)
    with pytest.raises(fault.error) as raised:
        cbr.run()
    assert re.search(fault.message, str(raised.value), re.DOTALL), str(raised.value)
    requests = len(cbr.front.actions(DYNAMIC))
    if fault.transient:
        assert requests >= 4  # every attempt of at least one document
    elif fault.kind == "redirect-loop":
        assert requests in (6, 12)  # per document: the request and five redirects, refused
    else:
        assert requests <= 2  # never retried (two documents fetched in parallel)
    assert data_files(cbr.warehouse) == before
    loads = cbr.warehouse.read(LOADS).to_pylist()
    assert len(loads) == loads_before + 1
    failed = max(loads, key=lambda r: r["started_at"])
    assert failed["status"] == "failed" and str(raised.value)[:60] in failed["message"]
    assert leftovers(cbr.warehouse.root) == {"tmp": [], "orphans": [], "unreadable": []}
    assert lock_is_free(cbr.warehouse.root)
    reliability.record(
        "faults: CBR", f"{fault.kind}, persistent", fault.injected,
        f"run failed: {type(raised.value).__name__}: {_short(raised.value)}; "
        "data files byte-identical, one 'failed' loads row",
        rows_lost=lost_rows(before_rows, snapshot(cbr.warehouse)),
        partial_files=partial_files(cbr.warehouse.root))


@pytest.mark.parametrize("retry_after", ["1", "http-date"])
def test_cbr_429_waits_as_long_as_retry_after_says(cbr, cbr_states, retry_after, reliability):
    def too_many(request):
        # An HTTP date is made when answering, two seconds ahead (one-second resolution).
        value = "1" if retry_after == "1" else email.utils.formatdate(time.time() + 2,
                                                                     usegmt=True)
        shown.append(value)
        return Response("slow down", status=429, headers={"Retry-After": value})

    shown: list[str] = []
    too_many.path = DYNAMIC
    cbr.fake.faults.append(too_many)
    cbr.run()
    attempts = cbr.front.to(DYNAMIC)
    assert len(attempts) == 3
    waited = max(b.at - a.at for a, b in itertools.pairwise(attempts))
    assert waited >= 0.95
    assert snapshot(cbr.warehouse) == cbr_states[1]
    reliability.record(
        "faults: CBR", f"429 with Retry-After: {retry_after}", f"HTTP 429, Retry-After: {shown[0]}",
        f"waited {waited:.1f} s before retrying; run completed; warehouse equals a clean run")


def test_cbr_429_asking_for_an_hour_gives_up_at_once(cbr, reliability):
    before = data_files(cbr.warehouse)
    cbr.fake.faults.extend([status(429, {"Retry-After": "3600"}, path=DYNAMIC)] * 2)
    started = time.monotonic()
    with pytest.raises(TransientSourceError, match="asked us to wait 3600 s"):
        cbr.run()
    assert time.monotonic() - started < 30
    assert len(cbr.front.actions(DYNAMIC)) <= 2
    assert data_files(cbr.warehouse) == before
    reliability.record("faults: CBR", "429 with Retry-After: 3600", "HTTP 429, Retry-After: 3600",
                       "no hammering, no stall: run failed at once, 'asked us to wait 3600 s'")
