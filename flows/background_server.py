"""`sco-etl server`: a Prefect server in the background, which later commands find and use.

`start` detaches a `LocalServer` with its home under `<data dir>/prefect/` and records its
pid, port and URL in `<data dir>/prefect/server.json`; `read_record` finds it again; `stop`
ends its process group and removes the record. A record whose processes are gone is stale
and removed on sight. A live server that does not answer is not used by the runs, and
`start` (or `stop`) ends it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from sco_etl.flows.server import (
    HOST,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    LocalServer,
    ServeError,
    is_healthy,
    port_in_use,
    server_port,
)
from sco_etl.schemas.clock import utc_now

STATE_FILE = "server.json"
PATIENT_HEALTH_TIMEOUT = 10.0
"""How long `start` gives a recorded server to answer before it replaces it as hung."""
KILL_TIMEOUT = 5.0
TEMPORARY = "runs start a temporary Prefect server"


@dataclass(frozen=True)
class ServerRecord:
    """A background server, as `server.json` records it."""

    pid: int
    """Also its process group: it runs in a session of its own."""
    port: int
    url: str
    log: str
    started_at: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


@dataclass(frozen=True)
class Started:
    """What `start` did."""

    record: ServerRecord
    seconds: float | None
    """Seconds to a healthy API; None when the server was already running."""


@dataclass(frozen=True)
class PrefectTarget:
    """Where the flow runs of this process are recorded."""

    api_url: str | None
    """None: each run starts a temporary Prefect server of its own."""
    note: str | None = None
    """The line to print when runs will not appear in a lasting UI."""


def prefect_home(data_dir: Path) -> Path:
    """The folder of the background server's database, log and record."""
    return data_dir / "prefect"


def read_record(home: Path) -> ServerRecord | None:
    """The recorded server if its processes live; a stale or unreadable record is removed."""
    path = home / STATE_FILE
    try:
        record = ServerRecord(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):  # not JSON, or not our fields
        path.unlink(missing_ok=True)
        return None
    if not _server_processes(record.pid):
        path.unlink(missing_ok=True)
        return None
    return record


def start(home: Path, timeout: float = STARTUP_TIMEOUT) -> Started:
    """The running server, or a new one on `server_port()`, recorded once it is healthy.

    Raises:
        ServeError: the port is taken, or the server did not become healthy.
    """
    record = read_record(home)
    if record is not None:
        if is_healthy(record.url, PATIENT_HEALTH_TIMEOUT):
            return Started(record, None)
        _end_group(record.pid)  # alive but not answering: replaced
        (home / STATE_FILE).unlink(missing_ok=True)
    port = server_port()
    if port_in_use(port):
        raise ServeError(f"port {port} on {HOST} is in use. Set PREFECT_SERVER_API_PORT to a "
                         "free port, or unset it to use 4200 or any free port")
    server = LocalServer(home, port, timeout, detached=True)
    started = time.monotonic()
    with _sigterm_as_interrupt():
        server.launch()
        try:
            server.wait_until_ready()
        except BaseException:  # Ctrl-C included: a half-started server must not stay behind
            _end_group(server.process.pid)
            raise
    record = ServerRecord(pid=server.process.pid, port=port, url=server.url,
                          log=str(server.log),
                          started_at=utc_now().isoformat(timespec="seconds"))
    _write(home, record)
    return Started(record, time.monotonic() - started)


def stop(home: Path) -> ServerRecord | None:
    """End the recorded server's whole process group; None when no server was running.

    Raises:
        ServeError: some of its processes survived SIGKILL.
    """
    record = read_record(home)
    if record is None:
        return None
    _end_group(record.pid)
    (home / STATE_FILE).unlink(missing_ok=True)
    return record


def connect(home: Path) -> PrefectTarget:
    """Point this process's Prefect client at the background server, unless an API is set.

    `PREFECT_API_URL` (environment or Prefect profile) takes precedence. Prefect reads its
    settings once, when it is first imported, so the new URL goes into the environment (for
    subprocesses too) and Prefect's global settings are read again.
    """
    from prefect.context import refresh_global_settings_context

    configured = configured_api_url()
    if configured:
        return PrefectTarget(configured)
    record = read_record(home)
    if record is not None and is_healthy(record.url):
        os.environ["PREFECT_API_URL"] = record.api_url
        refresh_global_settings_context()
        return PrefectTarget(record.api_url)
    if record is not None:
        return PrefectTarget(None, f"the sco-etl server at {record.url} does not answer: using a "
                                   "temporary Prefect server (`sco-etl server start` replaces it)")
    return PrefectTarget(None, "no sco-etl server running: using a temporary Prefect server "
                               "(start one with `sco-etl server start`)")


def configured_api_url() -> str | None:
    """The Prefect API this process would talk to (environment or profile), if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def describe(home: Path) -> str:
    """Where runs are recorded, in a line of `sco-etl status` (without importing Prefect)."""
    configured = os.environ.get("PREFECT_API_URL")
    record = read_record(home)
    if configured:
        unused = f"; the sco-etl server at {record.url} is not used" if record else ""
        return f"{configured} (PREFECT_API_URL){unused}"
    if record is None:
        return f"none — {TEMPORARY} (`sco-etl server start` keeps one)"
    if not is_healthy(record.url):
        return (f"the sco-etl server at {record.url} (pid {record.pid}) does not answer — "
                f"{TEMPORARY}")
    return f"{record.url} (the sco-etl server, pid {record.pid}, since {record.started_at})"


def _write(home: Path, record: ServerRecord) -> None:
    path = home / STATE_FILE
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)  # a reader sees the old record or the new one, never half of one


def _group(pgid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of a process group."""
    members = []
    for process in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if (os.getpgid(process.pid) == pgid
                    and process.info["status"] != psutil.STATUS_ZOMBIE):
                members.append(process)
    return members


def _server_processes(pgid: int) -> list[psutil.Process]:
    """The group's processes, if it is a Prefect server's (a reused pid is someone else's)."""
    members = _group(pgid)
    return members if any(_is_prefect(p) for p in members) else []


def _is_prefect(process: psutil.Process) -> bool:
    try:
        return "prefect" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def _end_group(pgid: int) -> None:
    """SIGTERM to the process group, SIGKILL to what is left; verify that nothing is."""
    for signum, patience in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, KILL_TIMEOUT)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signum)
        deadline = time.monotonic() + patience
        while _group(pgid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            return
    survivors = ", ".join(str(p.pid) for p in _group(pgid))
    raise ServeError(f"processes {survivors} of the Prefect server survived SIGKILL")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM while the server starts ends it like Ctrl-C, instead of orphaning it."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
