"""Shared test setup: one Prefect test server per session, a fake CBR, a fresh data dir."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from schemas.checks import tomorrow_in_moscow
from tests.fakes.cbr_history import History
from tests.fakes.cbr_server import FakeCbr
from warehouse import Warehouse

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
    history = History(last_date=tomorrow_in_moscow())
    history.values  # noqa: B018  (computed once for the session)
    return history


@pytest.fixture
def fake_cbr(httpserver, cbr_history) -> FakeCbr:
    """A CBR-compatible service on a local port; its URL is `fake_cbr.url`."""
    fake = FakeCbr(cbr_history)
    httpserver.expect_request(EVERY_PATH).respond_with_handler(fake)
    fake.url = httpserver.url_for("/scripts/")
    return fake


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(tmp_path / "data", lock_timeout=5)


@pytest.fixture
def today() -> dt.date:
    return tomorrow_in_moscow() - dt.timedelta(days=1)
