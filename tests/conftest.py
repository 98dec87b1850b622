"""Shared test setup: one Prefect test server per session, a fake CBR, a fresh data dir."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from pytest_httpserver import HTTPServer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from sco_etl.schemas.clock import moscow_tomorrow
from sco_etl.warehouse import Warehouse
from tests.fakes.cbr_history import History
from tests.fakes.cbr_server import FakeCbr
from tests.fakes.reliability import pycache_dir, recording

EVERY_PATH = re.compile(r"^/.*$")


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for the whole session (~10 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def cbr_history() -> History:
    """The synthetic history up to tomorrow (Moscow), built once: ~0.5 s."""
    history = History(last_date=moscow_tomorrow())
    history.values  # noqa: B018  (computed once for the session)
    return history


@pytest.fixture(scope="session")
def cbr_service(cbr_history):
    """A CBR-compatible service on a local port for the whole session."""
    fake = FakeCbr(cbr_history)
    server = HTTPServer(threaded=True)
    server.expect_request(EVERY_PATH).respond_with_handler(fake)
    server.start()
    fake.url = server.url_for("/scripts/")
    yield fake
    server.stop()


@pytest.fixture
def fake_cbr(cbr_service) -> FakeCbr:
    """The session's CBR service with no faults queued and its request counts reset."""
    cbr_service.faults.clear()
    cbr_service.requests.clear()
    yield cbr_service
    cbr_service.faults.clear()


@pytest.fixture
def cbr_env(monkeypatch, fake_cbr, warehouse) -> FakeCbr:
    """Environment pointing sco-etl at the fake CBR and a fresh data directory, fast retries."""
    monkeypatch.setenv("SCO_ETL_CBR_URL", fake_cbr.url)
    monkeypatch.setenv("SCO_ETL_DATA_DIR", str(warehouse.root))
    monkeypatch.setenv("SCO_ETL_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("SCO_ETL_REQUEST_INTERVAL", "0")
    monkeypatch.setenv("SCO_ETL_LOCK_TIMEOUT", "5")
    return fake_cbr


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(tmp_path / "data", lock_timeout=5)


@pytest.fixture
def today() -> dt.date:
    return moscow_tomorrow() - dt.timedelta(days=1)


@pytest.fixture
def reliability(request):
    """Records the reliability scenarios of a test for docs/RELIABILITY.md."""
    yield from recording(request)


@pytest.fixture(scope="session")
def pycache(request, tmp_path_factory):
    """A bytecode cache shared by the crash subprocesses."""
    return pycache_dir(request, tmp_path_factory)
