"""`sco-etl server`: a Prefect server in the background, which later commands find and use.

`begin` detaches a supervisor — this module run as a program — that runs a `LocalServer` with
its home under `<data dir>/prefect/`; once the server answers, `Starting.ready` records its
pid, port and URL in `<data dir>/prefect/server.json`. `read_record` finds it again; `stop`
ends its process group (supervisor and server) and removes the record. A record whose
processes are gone is stale and removed on sight. A live server that does not answer is not
used by the runs, and `begin` (or `stop`) ends it.

A flow command that finds no server starts one (`sco-etl server start` does it explicitly):
Prefect's start-up is then paid once per working session, not once per command. The
supervisor stops the server after `idle_minutes` without use — no command connected to it
(each touches `last-used`), no flow run running, no deployment polled by `sco-etl serve` or a
worker. Starting, connecting and that decision hold `server.lock`, so two commands never start
two servers, and none connects to a server that is stopping.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import httpx
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
    wait_until_healthy,
)

STATE_FILE = "server.json"
LOCK_FILE = "server.lock"
USED_FILE = "last-used"
LOG_FILE = "server.log"
DEFAULT_IDLE_MINUTES = 60.0
"""A background server stops itself after this long without use; 0: never."""
PATIENT_HEALTH_TIMEOUT = 10.0
"""How long `begin` gives a recorded server to answer before it replaces it as hung."""
KILL_TIMEOUT = 5.0
LONGEST_IDLE_CHECK = 60.0
"""Seconds between two idle checks of the supervisor (less for a short idle time)."""
ACTIVE_STATES = ["PENDING", "RUNNING", "CANCELLING"]
TEMPORARY = "runs start a temporary Prefect server"


@dataclass(frozen=True)
class ServerRecord:
    """A background server, as `server.json` records it."""

    pid: int
    """The supervisor's pid, also the process group of the supervisor and the server."""
    port: int
    url: str
    log: str
    started_at: str
    idle_minutes: float = DEFAULT_IDLE_MINUTES
    """It stops itself after this long without use (0: never)."""
    serving: bool = False
    """The server of a `sco-etl serve`, which stops it when it ends."""

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def lifetime(self) -> str:
        """How long it lives, for people."""
        if self.serving:
            return "stops when its `sco-etl serve` ends"
        if not self.idle_minutes:
            return "runs until `sco-etl server stop`"
        return f"stops itself after {_minutes(self.idle_minutes)} without use"


@dataclass(frozen=True)
class Started:
    """What `Starting.ready` found or started."""

    record: ServerRecord
    seconds: float | None
    """Seconds to a healthy API; None when the server was already running."""


@dataclass
class Starting:
    """A background server found running, or launched and not yet answering."""

    home: Path
    record: ServerRecord | None = None
    """The server found running; None while a new one starts."""
    process: subprocess.Popen | None = None
    port: int = 0
    idle_minutes: float = DEFAULT_IDLE_MINUTES
    timeout: float = STARTUP_TIMEOUT
    started: float = field(default_factory=time.monotonic)
    lock: IO | None = None

    @property
    def url(self) -> str:
        return self.record.url if self.record else f"http://{HOST}:{self.port}"

    def ready(self) -> Started:
        """Wait until the new server answers, record it; or the running one.

        Raises:
            ServeError: the server exited, or did not answer in time (it is ended).
        """
        if self.record is not None:
            return Started(self.record, None)
        try:
            with _sigterm_as_interrupt():
                wait_until_healthy(self.url, self.process, self.timeout, self.home / LOG_FILE)
            self.record = ServerRecord(
                pid=self.process.pid, port=self.port, url=self.url,
                log=str(self.home / LOG_FILE), started_at=_utc_now().isoformat(timespec="seconds"),
                idle_minutes=self.idle_minutes)
            _write(self.home, self.record)
            touch(self.home)
        except BaseException:  # Ctrl-C included: a half-started server must not stay behind
            _end_group(self.process.pid)
            raise
        finally:
            _release(self.lock)
        return Started(self.record, time.monotonic() - self.started)

    def abandon(self) -> None:
        """End a server launched for nothing (the runs go elsewhere after all)."""
        if self.record is None and self.process is not None:
            _end_group(self.process.pid)
        _release(self.lock)


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


def begin(home: Path, idle_minutes: float = DEFAULT_IDLE_MINUTES,
          timeout: float = STARTUP_TIMEOUT) -> Starting:
    """The running server, or a new one on `server_port()` launched: `Starting.ready()`
    waits for it. Until then no other command starts or stops a server here.

    Raises:
        ServeError: the port is taken.
    """
    home.mkdir(parents=True, exist_ok=True)
    lock = _acquire(home)
    try:
        record = read_record(home)
        if record is not None:
            if is_healthy(record.url, PATIENT_HEALTH_TIMEOUT):
                touch(home)
                _release(lock)
                return Starting(home, record)
            _end_group(record.pid)  # alive but not answering: replaced
            (home / STATE_FILE).unlink(missing_ok=True)
        port = server_port()
        if port_in_use(port):
            raise ServeError(f"port {port} on {HOST} is in use. Set PREFECT_SERVER_API_PORT to "
                             "a free port, or unset it to use 4200 or any free port")
        process = _launch_supervisor(home, port, idle_minutes)
    except BaseException:
        _release(lock)
        raise
    return Starting(home, None, process, port, idle_minutes, timeout, lock=lock)


def start(home: Path, idle_minutes: float = DEFAULT_IDLE_MINUTES,
          timeout: float = STARTUP_TIMEOUT) -> Started:
    """The running server, or a new one, recorded once it is healthy.

    Raises:
        ServeError: the port is taken, or the server did not become healthy.
    """
    return begin(home, idle_minutes, timeout).ready()


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


@contextlib.contextmanager
def recorded(home: Path, server: LocalServer) -> Iterator[ServerRecord]:
    """`server`, which a `sco-etl serve` runs for its own life, recorded as this data
    directory's server meanwhile: a flow command in another terminal then uses it, rather
    than start a second server on the same database."""
    record = ServerRecord(pid=server.process.pid, port=server.port, url=server.url,
                          log=str(server.log), started_at=_utc_now().isoformat(timespec="seconds"),
                          idle_minutes=0, serving=True)
    lock = _acquire(home)
    try:
        _write(home, record)
    finally:
        _release(lock)
    try:
        yield record
    finally:
        _forget(home, record.pid)


def running(home: Path) -> ServerRecord | None:
    """The recorded server if it answers, marked as in use; else None."""
    if not home.is_dir():
        return None
    lock = _acquire(home)
    try:
        record = read_record(home)
        if record is None or not is_healthy(record.url):
            return None
        touch(home)
        return record
    finally:
        _release(lock)


def configured_api_url() -> str | None:
    """The Prefect API this process would talk to (environment or profile), if any."""
    from prefect.settings import get_current_settings

    return get_current_settings().api.url


def use(home: Path, record: ServerRecord) -> None:
    """Point this process's Prefect client (and its subprocesses) at `record`'s server, which
    counts as used until this process ends.

    Prefect reads its settings once, when it is first imported, so the URL goes into the
    environment and Prefect's global settings are read again.
    """
    from prefect.context import refresh_global_settings_context

    os.environ["PREFECT_API_URL"] = record.api_url
    refresh_global_settings_context()
    touch(home)
    atexit.register(touch, home)  # the idle time counts from the end of the command


def describe(home: Path, auto_start: bool = True) -> str:
    """Where runs are recorded, in a line of `sco-etl status` (without importing Prefect)."""
    configured = os.environ.get("PREFECT_API_URL")
    record = read_record(home) if home.is_dir() else None
    if configured:
        unused = f"; the sco-etl server at {record.url} is not used" if record else ""
        return f"{configured} (PREFECT_API_URL){unused}"
    if record is None:
        return ("none — the next `sco-etl rates`, `news` or `maintain` starts one" if auto_start
                else f"none — {TEMPORARY} (SCO_ETL_AUTO_SERVER=0)")
    if not is_healthy(record.url):
        return (f"the sco-etl server at {record.url} (pid {record.pid}) does not answer — "
                "the next run replaces it")
    return (f"{record.url} (the sco-etl server, pid {record.pid}, since {record.started_at}; "
            f"it {record.lifetime})")


def touch(home: Path) -> None:
    """Mark the background server as used now (see `is_idle`)."""
    with contextlib.suppress(FileNotFoundError):  # the data directory went away meanwhile
        (home / USED_FILE).touch()


def is_idle(home: Path, url: str, idle_seconds: float, now: float | None = None) -> bool:
    """Whether the server at `url` has gone unused for `idle_seconds`: no command connected
    (`touch`), no flow run pending or running, no deployment polled by a runner or worker."""
    now = time.time() if now is None else now
    try:
        used = (home / USED_FILE).stat().st_mtime
    except FileNotFoundError:
        used = 0.0
    if now - used < idle_seconds:
        return False
    try:
        active = httpx.post(f"{url}/api/flow_runs/count", timeout=10, json={
            "flow_runs": {"state": {"type": {"any_": ACTIVE_STATES}}}})
        deployments = httpx.post(f"{url}/api/deployments/filter", timeout=10, json={})
        active.raise_for_status()
        deployments.raise_for_status()
    except httpx.HTTPError:
        return False  # busy or starting: ask again next time
    if active.json():
        return False
    polled = [_epoch(d["last_polled"]) for d in deployments.json() if d.get("last_polled")]
    return all(now - moment >= idle_seconds for moment in polled)


def supervise(home: Path, port: int, idle_minutes: float) -> int:
    """Run the server until it exits, is stopped, or goes unused for `idle_minutes`.

    The program behind a background server: its process leads the group that `stop` ends.
    Returns the exit status.
    """
    server = LocalServer(home, port, own_group=False, log=home / LOG_FILE)
    signal.signal(signal.SIGTERM, lambda *_: (server.stop(), sys.exit(0)))
    server.launch()
    idle_seconds = idle_minutes * 60
    check_every = min(LONGEST_IDLE_CHECK, max(idle_seconds / 4, 1.0))
    while True:
        try:
            code = server.process.wait(timeout=check_every)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None:  # the server itself ended
            _forget(home, os.getpid())
            return code
        if idle_seconds and _stop_when_idle(home, server, idle_seconds):
            return 0


def _stop_when_idle(home: Path, server: LocalServer, idle_seconds: float) -> bool:
    """Stop the server if it is idle, holding the lock: no command connects meanwhile."""
    if not is_idle(home, server.url, idle_seconds):
        return False
    lock = _acquire(home)
    try:
        if not is_idle(home, server.url, idle_seconds):  # a command came while we waited
            return False
        _forget(home, os.getpid())
        server.stop()
        print(f"{_utc_now():%Y-%m-%d %H:%M:%S} UTC sco-etl: stopped after "
              f"{_minutes(idle_seconds / 60)} without use", flush=True)
        return True
    finally:
        _release(lock)


def _launch_supervisor(home: Path, port: int, idle_minutes: float) -> subprocess.Popen:
    """`supervise` in a detached process: a session of its own, which outlives this one."""
    with (home / LOG_FILE).open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "sco_etl.flows.background_server", "--home", str(home),
             "--port", str(port), "--idle-minutes", str(idle_minutes)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)


def _forget(home: Path, pid: int) -> None:
    """Remove the record if it is this supervisor's."""
    path = home / STATE_FILE
    with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
        if ServerRecord(**json.loads(path.read_text(encoding="utf-8"))).pid == pid:
            path.unlink(missing_ok=True)


def _write(home: Path, record: ServerRecord) -> None:
    path = home / STATE_FILE
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)  # a reader sees the old record or the new one, never half of one


def _acquire(home: Path) -> IO:
    lock = (home / LOCK_FILE).open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def _release(lock: IO | None) -> None:
    if lock is not None and not lock.closed:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


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


def _minutes(minutes: float) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return "an hour" if hours == 1 else f"{hours} hours"
    return f"{minutes:g} minutes"


def _epoch(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _utc_now():
    from sco_etl.schemas.clock import utc_now

    return utc_now()


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - the supervisor process
    parser = argparse.ArgumentParser(description="supervise a background sco-etl server")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle-minutes", type=float, default=DEFAULT_IDLE_MINUTES)
    args = parser.parse_args(argv)
    return supervise(args.home, args.port, args.idle_minutes)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
