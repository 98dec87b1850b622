"""`sco-etl serve`: every deployment of `prefect.yaml` on its schedule, in one command.

With no Prefect API configured it starts a Prefect server on loopback, with its database and
logs under `<data dir>/prefect/`, serves the deployments against it, and on Ctrl-C or SIGTERM
stops the runner first (so it can pause its schedules), then the server. With
`PREFECT_API_URL` set it only serves, against that server.
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
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx

from flows import deployments
from schemas.errors import ConfigError, ScoEtlError

HOST = "127.0.0.1"
DEFAULT_PORT = 4200
STARTUP_TIMEOUT = 180.0
"""A first start creates the database (~30 s on a slow machine); later starts take ~10 s."""
STOP_TIMEOUT = 20.0
RUN_LIMIT = 2
"""Flow runs at once: rates and news write different tables; more would starve 2 cores."""
SERVED_TAG = "served"
LINUX_PR_SET_PDEATHSIG = 1


class ServeError(ScoEtlError):
    """The embedded Prefect server could not be started."""


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
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.25)
    raise ServeError(f"the Prefect server at {url} was not healthy after {timeout:.0f} s"
                     + (f"; see {log}" if log else ""))


class LocalServer:
    """A `prefect server start` child process on loopback, for the life of a `with` block."""

    def __init__(self, home: Path, port: int, timeout: float = STARTUP_TIMEOUT,
                 environ: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.environ = environ
        self.port = port
        self.timeout = timeout
        self.url = f"http://{HOST}:{port}"
        self.api_url = f"{self.url}/api"
        self.log = home / "server.log"
        self.process: subprocess.Popen | None = None

    def launch(self) -> None:
        """Start the server process without waiting for it (see `wait_until_ready`)."""
        self.home.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "prefect", "server", "start",
                   "--host", HOST, "--port", str(self.port)]
        with self.log.open("ab") as log:
            # A session of its own: the terminal's Ctrl-C reaches only us, so the runner can
            # still pause its schedules on this server before we stop it.
            self.process = subprocess.Popen(
                command, env=server_environment(self.home, self.environ),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
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
        try:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        finally:
            signal.signal(signal.SIGINT, previous)


def configured_api_url() -> str | None:
    """The Prefect API this process would talk to (environment or profile), if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def serve(
    data_dir: Path,
    names: list[str] | None = None,
    cron: str | None = None,
    interval: float | None = None,
    timezone: str | None = None,
    limit: int = RUN_LIMIT,
    prefect_file: Path = deployments.PREFECT_FILE,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the deployments until Ctrl-C or SIGTERM.

    Args:
        data_dir: the data directory; the embedded server keeps its database under it.
        names: deployments to serve (default: all).
        cron, interval, timezone: replace the schedules of the served deployments.
        limit: flow runs at once.
        prefect_file: where the deployments are declared.
        echo: where to say what is being served.
    """
    specs = deployments.select(deployments.load_specs(prefect_file), names)
    if cron or interval:
        specs = [deployments.with_schedule(s, cron, interval, timezone) for s in specs]
    with _stop_on_sigterm():
        api_url = configured_api_url()
        if api_url:
            echo(f"serving against the Prefect API at {api_url}")
            _run(_deployments(specs), limit, echo)
        else:
            _serve_with_own_server(data_dir / "prefect", specs, limit, echo)
    echo("stopped")


def _serve_with_own_server(home: Path, specs: list[deployments.DeploymentSpec], limit: int,
                           echo: Callable[[str], None]) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    port = server_port()
    if port_in_use(port):
        # Else we would wait for, and serve against, whatever answers there.
        raise ServeError(f"port {port} on {HOST} is in use. Unset PREFECT_SERVER_API_PORT, "
                         f"or serve against that server: PREFECT_API_URL=http://{HOST}:{port}/api")
    server = LocalServer(home, port)
    # The server is the slow part: it boots while the flows are imported.
    server.launch()
    try:
        served = _deployments(specs)
        server.wait_until_ready()
        echo(f"Prefect UI: {server.url}   (API {server.api_url}; log {server.log})")
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            _run(served, limit, echo)
    finally:
        server.stop()


def _deployments(specs: list[deployments.DeploymentSpec]) -> list:
    if not specs:
        raise ConfigError("no deployment to serve: prefect.yaml declares none")
    return deployments.runner_deployments(specs, extra_tags=(SERVED_TAG,))


def _run(served: list, limit: int, echo: Callable[[str], None]) -> None:
    from prefect import serve as prefect_serve

    for deployment in served:
        when = ", ".join(_describe(s.schedule) for s in deployment.schedules) or "on demand"
        echo(f"  {deployment.flow_name}/{deployment.name}: {when}")
    echo("Ctrl-C to stop")
    # Returns on Ctrl-C and SIGTERM (the runner's own handler), after pausing the schedules.
    prefect_serve(*served, limit=limit, print_starting_message=False,
                  name=f"sco-etl-{socket.gethostname()}")


def _describe(schedule: object) -> str:
    zone = getattr(schedule, "timezone", None) or "UTC"
    if getattr(schedule, "cron", None):
        return f"cron '{schedule.cron}' {zone}"
    return f"every {schedule.interval.total_seconds():g} s"


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt until the runner installs its own handler, and
    Ctrl-C into SIGTERM.

    Without the first, a SIGTERM while the server starts would kill us and orphan the
    server. The second because the runner's SIGTERM handler always stops it, while a
    KeyboardInterrupt raised inside its event loop could be lost (a Ctrl-C once left
    `serve` running on, under load).
    """
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    def terminate(signum: int, frame: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, interrupt)
    previous_int = signal.signal(signal.SIGINT, terminate)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


# Loaded here, not in the child: importing between fork and exec can deadlock.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # If we are killed outright (SIGKILL), the kernel sends the server SIGTERM: no orphan.
    if _LIBC is not None:
        _LIBC.prctl(LINUX_PR_SET_PDEATHSIG, signal.SIGTERM)
