"""The local servers of a benchmark run: a CBR-compatible service and a Prefect API.

The CBR service is the test suite's `FakeCbr` over the synthetic `History`, behind a response
cache, so that what is timed is the client, not the fake generating XML (the real service
answers a full-history `XML_dynamic` in well under a second; the fake needs ~0.5 s of Python).
The added latency is applied to every request, cached or not.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

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
    server = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    server.expect_request(EVERY_PATH).respond_with_handler(service)
    server.start()
    try:
        yield service, server.url_for(SERVICE_PATH)
    finally:
        server.clear()
        server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrefectServer:
    """`prefect server start` on a free loopback port, its database in a temporary home."""

    def __init__(self, env: dict[str, str], log_dir: Path, timeout: float = 240.0) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.home = tempfile.mkdtemp(prefix="sco-bench-prefect-")
        self.env = {**env, "PREFECT_HOME": self.home, "PREFECT_API_URL": ""}
        self.log_path = log_dir / "prefect-server.log"
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    def __enter__(self) -> PrefectServer:
        started = time.perf_counter()
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "prefect"), "server", "start",
                 "--host", "127.0.0.1", "--port", str(self.port), "--no-ui", "--analytics-off"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"prefect server not healthy after {self.timeout:.0f} s; "
                           f"see {self.log_path}")

    def stop(self) -> None:
        """Stop the server and everything it started (its own process group)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
