"""One warehouse for the web tests, served by a real `sco-etl web` subprocess.

Rates around the seed page's days and around the recorded CBR documents of April 2025 (the
fake CBR serves their exact values on their dates), the whole history of the yuan and the
rupee, and the news fixtures with the Moiseev interview's article text.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from sco_etl.warehouse import Warehouse
from tests.fakes.news_site import NewsSite
from tests.fakes.seed import ingest_page_days
from tests.fakes.web import FAST, web_server

APRIL_2025 = (dt.date(2025, 3, 25), dt.date(2025, 4, 5))


def load(data: Path, cbr_url: str) -> None:
    """The web tests' warehouse (rates from `cbr_url`, news from a local site)."""
    from sco_etl.flows.rates import ingest_rates

    server = HTTPServer()
    server.start()
    try:
        ingest_page_days(data, cbr_url, NewsSite(server))
    finally:
        server.stop()
    ingest_rates(start=APRIL_2025[0], end=APRIL_2025[1], data_dir=str(data), cbr_url=cbr_url)
    ingest_rates(currencies=["CNY", "INR"], data_dir=str(data), cbr_url=cbr_url,
                 start=dt.date(1992, 7, 1))


@pytest.fixture(scope="package")
def lake(tmp_path_factory, cbr_service, prefect_harness) -> Warehouse:
    data = tmp_path_factory.mktemp("web") / "data"
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAST.items():
            env.setenv(name, value)
        load(data, cbr_service.url)
    return Warehouse(data)


@pytest.fixture(scope="package")
def web(lake) -> str:
    with web_server(lake.root) as url:
        yield url


@pytest.fixture
def client(web) -> httpx.Client:
    with httpx.Client(base_url=web, timeout=30) as session:
        yield session
