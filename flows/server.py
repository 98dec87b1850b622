"""The local Prefect server: launched on loopback, its database and log under a home folder.

`LocalServer` is the one launcher of the project: `sco-etl serve` runs one for the life of the
command, the benchmarks and tests for the life of a `with` block, and the supervisor of
`sco-etl server` (`flows.background_server`) for as long as the server is in use.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from sco_etl.schemas.errors import ConfigError, ScoEtlError

HOST = "127.0.0.1"
DEFAULT_PORT = 4200
STARTUP_TIMEOUT = 180.0
"""A first start creates the database (~30 s on a slow machine); later starts take ~10 s."""
STOP_TIMEOUT = 20.0
LINUX_PR_SET_PDEATHSIG = 1


class ServeError(ScoEtlError):
    """The local Prefect server could not be started or stopped."""


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


def free_port(preferred: int | None = DEFAULT_PORT) -> int:
    """`preferred` if nothing listens on it, else a port the OS picks."""
    if preferred and not port_in_use(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_port() -> int:
    """`PREFECT_SERVER_API_PORT` when set, else 4200 when free, else any free port."""
    configured = os.environ.get("PREFECT_SERVER_API_PORT")
    if configured:
        try:
            return int(configured)
        except ValueError:
            raise ConfigError(f"PREFECT_SERVER_API_PORT must be a port number, "
                              f"not {configured!r}") from None
    return free_port()


def server_environment(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: its home and SQLite database under `home`, analytics off."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(home)
    env.setdefault("PREFECT_API_DATABASE_CONNECTION_URL",
                   f"sqlite+aiosqlite:///{home / 'prefect.db'}")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    return env


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether `<url>/api/health` answers 200 within `timeout` seconds."""
    try:
        return httpx.get(f"{url}/api/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_healthy(url: str, process: subprocess.Popen | None, timeout: float,
                       log: Path | None = None) -> float:
    """Poll `<url>/api/health` until it answers 200; return the seconds it took.

    Raises:
        ServeError: the process exited, or the server was not healthy within `timeout`.
    """
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise ServeError(f"the Prefect server exited with code {process.returncode}"
                             + (f"; see {log}" if log else ""))
        if is_healthy(url):
            return time.monotonic() - started
        time.sleep(0.25)
    raise ServeError(f"the Prefect server at {url} was not healthy after {timeout:.0f} s"
                     + (f"; see {log}" if log else ""))


class LocalServer:
    """A `prefect server start` child process on loopback, for the life of a `with` block.

    Args:
        home: its `PREFECT_HOME`: the SQLite database, and `server.log` unless `log` is given.
        port: the loopback port to listen on.
        timeout: seconds to wait for a healthy API.
        environ: the environment to start from (default: this process's).
        own_group: run in a session (and process group) of its own; False keeps it in this
            process's group (the supervisor of `sco-etl server`, whose group is stopped
            whole). Either way the server gets SIGTERM when this process dies, even by SIGKILL.
        ui: serve the web UI too (the benchmarks time the API alone).
        log: where the server's output goes.
    """

    def __init__(self, home: Path, port: int, timeout: float = STARTUP_TIMEOUT,
                 environ: Mapping[str, str] | None = None, own_group: bool = True,
                 ui: bool = True, log: Path | None = None) -> None:
        self.home = home
        self.environ = environ
        self.port = port
        self.timeout = timeout
        self.own_group = own_group
        self.ui = ui
        self.url = f"http://{HOST}:{port}"
        self.api_url = f"{self.url}/api"
        self.log = log or home / "server.log"
        self.process: subprocess.Popen | None = None

    def launch(self) -> None:
        """Start the server process without waiting for it (see `wait_until_ready`)."""
        self.home.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "prefect", "server", "start",
                   "--host", HOST, "--port", str(self.port)]
        if not self.ui:
            command.append("--no-ui")
        with self.log.open("ab") as log:
            # A session of its own: the terminal's Ctrl-C reaches only us, so the runner can
            # still pause its schedules on this server before we stop it.
            self.process = subprocess.Popen(
                command, env=server_environment(self.home, self.environ),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=self.own_group, preexec_fn=_die_with_parent,
            )

    def wait_until_ready(self) -> float:
        """Block until the API is healthy; return the seconds waited."""
        return wait_until_healthy(self.url, self.process, self.timeout, self.log)

    def __enter__(self) -> LocalServer:
        self.launch()
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL if it has not gone in time."""
        if self.process is None or self.process.poll() is not None:
            return
        # A second Ctrl-C while the server stops must not leave it running.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        kill = os.killpg if self.own_group else os.kill
        try:
            with contextlib.suppress(ProcessLookupError):
                kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        finally:
            signal.signal(signal.SIGINT, previous)


# Loaded here, not in the child: importing between fork and exec can deadlock.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # If we are killed outright (SIGKILL), the kernel sends the server SIGTERM: no orphan.
    if _LIBC is not None:
        _LIBC.prctl(LINUX_PR_SET_PDEATHSIG, signal.SIGTERM)
