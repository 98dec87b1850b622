"""The local servers of a benchmark run: a CBR-compatible service and a Prefect API.

The CBR service is the test suite's `FakeCbr` over the synthetic `History`, behind a response
cache, so that what is timed is the client, not the fake generating XML (the real service
answers a full-history `XML_dynamic` in well under a second; the fake needs ~0.5 s of Python).
The added latency is applied to every request, cached or not.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sco_etl.flows.server import LocalServer, free_port
from tests.fakes.cbr_history import History
from tests.fakes.cbr_server import FakeCbr

EVERY_PATH = re.compile(r"^/.*$")
SERVICE_PATH = "/scripts/"
"""sco-etl's `SCO_ETL_CBR_URL` path and the path `cbrf` requests (`/scripts/XML_daily.asp`)."""


class CachedCbr:
    """A `FakeCbr` whose answers are cached by document and query; counts every request."""

    def __init__(self, history: History, latency: float = 0.0) -> None:
        self.fake = FakeCbr(history)
        self.latency = latency
        self.requests: Counter = Counter()
        self.dynamic_ids: Counter = Counter()
        self._cache: dict[tuple, tuple[int, bytes, str]] = {}
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if self.latency:
            time.sleep(self.latency)
        name = request.path.rsplit("/", 1)[-1]
        # Parsed arguments, not the raw query: `cbrf` sends `01/07/2000`, requests `01%2F07…`.
        key = (name, tuple(sorted(request.args.items(multi=True))))
        with self._lock:
            self.requests[name] += 1
            if name == "XML_dynamic.asp":
                self.dynamic_ids[request.args.get("VAL_NM_RQ", "")] += 1
        cached = self._cache.get(key)
        if cached is None:
            response = self.fake(request)
            cached = (response.status_code, response.get_data(), response.content_type)
            if response.status_code == 200:
                self._cache[key] = cached
        status, body, content_type = cached
        return Response(body, status=status, content_type=content_type)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def snapshot(self) -> tuple[Counter, Counter]:
        return Counter(self.requests), Counter(self.dynamic_ids)

    def since(self, snapshot: tuple[Counter, Counter]) -> dict:
        """Requests made since `snapshot`: by document, and the currency IDs asked."""
        requests = self.requests - snapshot[0]
        ids = self.dynamic_ids - snapshot[1]
        return {"total": sum(requests.values()), "by_document": dict(requests),
                "dynamic_ids": len(ids)}

    def warm_daily(self, days) -> None:
        """Fill the cache with the `XML_daily` answers for `days`, as `cbrf` will ask them."""
        for day in days:
            args = (("date_req", day.strftime("%d/%m/%Y")),)
            if ("XML_daily.asp", args) not in self._cache:
                body = self.fake.daily(dict(args)).encode("windows-1251")
                self._cache[("XML_daily.asp", args)] = (
                    200, body, "application/xml; charset=windows-1251")


@contextmanager
def serve_cbr(history: History) -> Iterator[tuple[CachedCbr, str]]:
    """A threaded CBR service on a free loopback port; yields it and its base URL."""
    service = CachedCbr(history)
    server = HTTPServer(host="127.0.0.1", port=free_port(None), threaded=True)
    server.expect_request(EVERY_PATH).respond_with_handler(service)
    server.start()
    try:
        yield service, server.url_for(SERVICE_PATH)
    finally:
        server.clear()
        server.stop()


class PrefectServer:
    """The project's `LocalServer`, API only, on a free loopback port, its database in a
    temporary home; it keeps how long it took to become healthy."""

    def __init__(self, env: dict[str, str], log_dir: Path, timeout: float = 240.0) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="sco-bench-prefect-"))
        self.server = LocalServer(self.home, free_port(None), timeout, environ=env, ui=False,
                                  log=log_dir / "prefect-server.log")
        self.api_url = self.server.api_url
        self.startup_seconds: float | None = None

    def __enter__(self) -> PrefectServer:
        started = time.perf_counter()
        self.server.__enter__()
        self.startup_seconds = time.perf_counter() - started
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()  # its whole process group
        shutil.rmtree(self.home, ignore_errors=True)
