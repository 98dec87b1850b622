"""`sco-etl web` as a subprocess on a free loopback port, for the tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.fakes.processes import free_port

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60
FAST = {"SCO_ETL_HTTP_BACKOFF": "0.01", "SCO_ETL_REQUEST_INTERVAL": "0",
        "SCO_ETL_LOCK_TIMEOUT": "30"}
"""Settings of the runs that fill a served warehouse: no politeness waits against the fakes."""


@contextmanager
def web_server(data_dir: Path, **settings: str) -> Iterator[str]:
    """`sco-etl web` serving `data_dir` (or the lake `settings` name); yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCO_ETL_")}
    env.update({"SCO_ETL_DATA_DIR": str(data_dir), **settings})
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed when the server is stopped)
        prefix="sco-etl-web-", suffix=".log", delete=False)
    process = subprocess.Popen([str(BIN / "sco-etl"), "-v", "web", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, Path(log.name))
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        errors = Path(log.name).read_text(errors="replace")
        Path(log.name).unlink()
        if "Traceback" in errors:  # the app answered 500 somewhere: show why
            print(errors[-6000:])


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise RuntimeError(f"sco-etl web exited with {process.returncode}: {output}")
        try:
            httpx.get(f"{url}/api/v1/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"sco-etl web did not answer at {url} within {STARTUP_SECONDS} s")
