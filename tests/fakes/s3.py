"""moto's S3 server on loopback, the data store of a DuckLake warehouse.

`MotoS3` runs `moto.server` on 127.0.0.1 and a free port as a subprocess and creates a bucket;
`secret_sql()` is the DuckDB `CREATE SECRET` for it.

The session fixture `moto_s3` never skips: a missing moto fails the fixture with a message
saying so. Use it from a test module or conftest with
`from tests.fakes.s3 import moto_s3  # noqa: F401`; the catalog side is `tests/fakes/postgres.py`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from tests.fakes.processes import LakeServiceUnavailable, free_port


class MotoS3:
    """moto's S3 server on 127.0.0.1 and a free port, with one bucket; a context manager."""

    def __init__(self, bucket: str = "sco-lake", *, region: str = "us-east-1",
                 key_id: str = "test", secret: str = "test", start_timeout: float = 30.0):
        self.bucket = bucket
        self.region = region
        self.key_id = key_id
        self.secret = secret
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.start_timeout = start_timeout
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None

    @property
    def endpoint(self) -> str:
        """`host:port`, DuckDB's ENDPOINT (no scheme)."""
        if self.port is None:
            raise RuntimeError("MotoS3 is not running (use start() or `with`)")
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def s3_url(self, prefix: str = "") -> str:
        """`s3://bucket/prefix/` (a trailing slash added when `prefix` is given)."""
        prefix = prefix.strip("/")
        return f"s3://{self.bucket}/{prefix}/" if prefix else f"s3://{self.bucket}/"

    def secret_sql(self, name: str = "lake_s3", *, scope: str | None = None) -> str:
        """The DuckDB (httpfs) `CREATE OR REPLACE SECRET` for this server."""
        scope_sql = f", SCOPE '{scope}'" if scope else ""
        return (f"CREATE OR REPLACE SECRET {name} (TYPE s3, PROVIDER config, "
                f"KEY_ID '{self.key_id}', SECRET '{self.secret}', ENDPOINT '{self.endpoint}', "
                f"URL_STYLE 'path', USE_SSL false, REGION '{self.region}'{scope_sql})")

    def create_bucket(self, bucket: str) -> None:
        self._request("PUT", f"/{bucket}")

    def list_keys(self, prefix: str = "", bucket: str | None = None) -> list[str]:
        """Every key under `prefix` (ListObjectsV2, following continuation tokens)."""
        keys: list[str] = []
        token = None
        ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            body = self._request("GET", f"/{bucket or self.bucket}?"
                                 + urllib.parse.urlencode(query))
            root = ET.fromstring(body)
            keys += [el.text for el in root.iter(f"{ns}Key")]
            truncated = root.findtext(f"{ns}IsTruncated") == "true"
            token = root.findtext(f"{ns}NextContinuationToken")
            if not truncated or not token:
                return sorted(keys)

    def reset(self) -> None:
        """Forget every bucket and object (moto's reset API), then recreate the bucket."""
        self._request("POST", "/moto-api/reset")
        self.create_bucket(self.bucket)

    def start(self) -> MotoS3:
        began = time.monotonic()
        last_error = ""
        for _attempt in range(5):
            port = free_port()
            self._log = tempfile.TemporaryFile(prefix="sco-moto-")  # noqa: SIM115  (closed in stop)
            env = dict(os.environ, AWS_ACCESS_KEY_ID=self.key_id,
                       AWS_SECRET_ACCESS_KEY=self.secret, AWS_DEFAULT_REGION=self.region)
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(port)],
                    stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                    env=env, start_new_session=True)
            except OSError as exc:
                raise LakeServiceUnavailable(f"cannot run moto.server: {exc}") from exc
            self.port = port
            if self._wait_ready():
                break
            last_error = self._log_text()
            self._terminate()
            if "No module named" in last_error:
                raise LakeServiceUnavailable(
                    f"moto server is not installed in {sys.executable} "
                    f"(pip install 'moto[server]'):\n{last_error}")
        else:
            raise LakeServiceUnavailable(f"moto.server did not start:\n{last_error}")
        try:
            self.create_bucket(self.bucket)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        self._terminate()

    def __enter__(self) -> MotoS3:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, data: bytes | None = None) -> bytes:
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1).close()
                return True
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        return False

    def _log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        self.port = None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture(scope="session")
def moto_s3():
    """A running `MotoS3` with bucket `sco-lake` for the session; fails if moto is missing."""
    try:
        server = MotoS3().start()
    except LakeServiceUnavailable as exc:
        pytest.fail(f"moto_s3: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
