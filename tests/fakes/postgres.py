"""A throwaway PostgreSQL cluster, the catalog of a DuckLake warehouse.

`PostgresCluster` runs `initdb` + `pg_ctl` in a temporary directory (trust auth, the unix
socket inside that directory, TCP on 127.0.0.1 and a free port) and creates the database
`sco`; `conninfo` is the libpq string DuckDB's postgres catalog takes:

    ATTACH 'ducklake:postgres:<conninfo>' AS sco (DATA_PATH 's3://<bucket>/<prefix>/')

PostgreSQL refuses to run as root, so under root the server runs as an unprivileged user
(`SCO_PG_OS_USER`, else `postgres` if it exists, else `nobody`) and the directory is chowned
to it; pytest's own `tmp_path` (under a 0700 `/tmp/pytest-of-root`) is not reachable by that
user, hence the cluster makes its own directory unless given one that is.

The session fixture `postgres_cluster` never skips: a missing binary fails the fixture with a
message saying what is missing. Use it (and `moto_s3` of `tests/fakes/s3.py`) with
`from tests.fakes.postgres import postgres_cluster  # noqa: F401`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.fakes.processes import LakeServiceUnavailable, _pid_alive, _wait_gone, free_port

SOCKET_PATH_MAX = 100
"""Unix socket paths are limited to 107 bytes; `.s.PGSQL.NNNNN` takes 15 of them."""


def find_pg_bindir() -> Path:
    """PostgreSQL's bin directory: `SCO_PG_BINDIR`, `pg_config --bindir`, or the newest
    `/usr/lib/postgresql/*/bin`; `LakeServiceUnavailable` if none has initdb and pg_ctl."""
    candidates: list[Path] = []
    if os.environ.get("SCO_PG_BINDIR"):
        candidates.append(Path(os.environ["SCO_PG_BINDIR"]))
    for name in ("pg_ctl", "initdb"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found).parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
            candidates.append(Path(out))

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                           key=version, reverse=True)]
    for bindir in candidates:
        if all((bindir / tool).is_file() and os.access(bindir / tool, os.X_OK)
               for tool in ("initdb", "pg_ctl", "createdb", "postgres")):
            return bindir
    raise LakeServiceUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, createdb, postgres) not found: looked in "
        f"{[str(c) for c in candidates] or 'nothing'}; install postgresql (Debian: "
        "apt-get install postgresql) or set SCO_PG_BINDIR to its bin directory")


def _server_user() -> pwd.struct_passwd:
    """The account PostgreSQL runs as: the current one, or an unprivileged one under root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    wanted = os.environ.get("SCO_PG_OS_USER")
    names = [wanted] if wanted else ["postgres", "nobody"]
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return entry
    raise LakeServiceUnavailable(
        f"running as root and no unprivileged account among {names} to run PostgreSQL as "
        "(initdb/postgres refuse root); create one (useradd -r pgtest) and set SCO_PG_OS_USER")


class PostgresCluster:
    """A throwaway PostgreSQL cluster with a database `sco`; a context manager.

    `base_dir`: where the cluster lives (data/, sock/, postgres.log). By default a fresh
    directory under the system temp dir, removed on `stop()`; a given directory is kept and
    must be reachable (searchable) by the server's account.
    """

    def __init__(self, base_dir: str | os.PathLike | None = None, *, dbname: str = "sco",
                 user: str = "sco", start_timeout: float = 60.0):
        self.bindir = find_pg_bindir()
        self.os_user = _server_user()
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir is not None else Path(
            tempfile.mkdtemp(prefix="sco-pg-"))
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sock"
        self.log_path = self.base_dir / "postgres.log"
        self.dbname = dbname
        self.user = user
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.pid: int | None = None
        self.start_timeout = start_timeout
        self.startup_seconds: float | None = None

    # -- public ------------------------------------------------------------------------------

    @property
    def conninfo(self) -> str:
        """libpq key=value string over TCP, e.g. `dbname=sco host=127.0.0.1 port=5433 user=sco`."""
        self._require_running()
        return f"dbname={self.dbname} host={self.host} port={self.port} user={self.user}"

    @property
    def socket_conninfo(self) -> str:
        """The same over the unix socket in `socket_dir`."""
        self._require_running()
        return f"dbname={self.dbname} host={self.socket_dir} port={self.port} user={self.user}"

    @property
    def ducklake_uri(self) -> str:
        """`ducklake:postgres:<conninfo>`, the string to ATTACH."""
        return f"ducklake:postgres:{self.conninfo}"

    def psql(self, sql: str, *, dbname: str | None = None) -> str:
        """Run `sql` with psql (tuples only, unaligned, stop on error) and return its stdout."""
        self._require_running()
        out = self._run([str(self.bindir / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                         "-h", self.host, "-p", str(self.port), "-U", self.user,
                         "-d", dbname or self.dbname, "-c", sql], timeout=60)
        return out.stdout

    def start(self) -> PostgresCluster:
        began = time.monotonic()
        self._prepare_dir()
        self._initdb()
        last_error = ""
        for _attempt in range(5):
            port = free_port()
            result = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir),
                                "-l", str(self.log_path), "-w", "-t", str(int(self.start_timeout)),
                                "-o", f"-p {port}", "start"], check=False,
                               timeout=self.start_timeout + 10)
            if result.returncode == 0:
                self.port = port
                self.pid = self._postmaster_pid()
                break
            last_error = f"{result.stdout}{result.stderr}\n--- log ---\n{self._log_tail()}"
            self._kill_leftover()
            if "could not bind" not in last_error and "already in use" not in last_error:
                break
        if self.port is None:
            self._cleanup_dir()
            raise LakeServiceUnavailable(f"pg_ctl start failed:\n{last_error}")
        try:
            self._run([str(self.bindir / "createdb"), "-h", self.host, "-p", str(self.port),
                       "-U", self.user, self.dbname], timeout=60)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop the server (fast, then immediate, then SIGKILL) and wait until it is gone."""
        if self.data_dir.exists() and (self.data_dir / "postmaster.pid").exists():
            pid = self.pid or self._postmaster_pid()
            for mode in ("fast", "immediate"):
                result = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir),
                                    "-m", mode, "-w", "-t", "20", "stop"], check=False, timeout=30)
                if result.returncode == 0 and (pid is None or _wait_gone(pid, 10)):
                    break
            if pid is not None and _pid_alive(pid):
                self._kill_leftover()
        self.port = None
        self.pid = None
        self._cleanup_dir()

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _require_running(self) -> None:
        if self.port is None:
            raise RuntimeError("PostgresCluster is not running (use start() or `with`)")

    def _run(self, cmd: list[str], *, check: bool = True, timeout: float = 60):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(HOME=str(self.base_dir), LC_ALL="C", LANG="C", PGCONNECT_TIMEOUT="10")
        kwargs = {}
        if os.geteuid() == 0:
            kwargs = dict(user=self.os_user.pw_uid, group=self.os_user.pw_gid, extra_groups=[])
        result = subprocess.run(cmd, cwd=self.base_dir, env=env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=timeout, **kwargs)
        if check and result.returncode != 0:
            raise LakeServiceUnavailable(
                f"{' '.join(cmd)} failed ({result.returncode}) as {self.os_user.pw_name}:\n"
                f"{result.stdout}{result.stderr}")
        return result

    def _prepare_dir(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket_dir)) + 15 > SOCKET_PATH_MAX:
            raise LakeServiceUnavailable(
                f"{self.socket_dir} is too long for a unix socket path; use a shorter base_dir")
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            uid, gid = self.os_user.pw_uid, self.os_user.pw_gid
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, uid, gid)
            os.chmod(self.base_dir, 0o700)
            probe = subprocess.run(["test", "-w", str(self.base_dir), "-a", "-x",
                                    str(self.base_dir)], user=uid, group=gid, extra_groups=[],
                                   check=False)
            if probe.returncode != 0:
                raise LakeServiceUnavailable(
                    f"{self.base_dir} is not reachable by {self.os_user.pw_name} (a parent "
                    "directory is not searchable, e.g. pytest's 0700 /tmp/pytest-of-root); "
                    "leave base_dir unset to get a fresh directory under /tmp")

    def _initdb(self) -> None:
        self._run([str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user,
                   "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"],
                  timeout=120)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": "200",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "shared_buffers": "32MB",
            "dynamic_shared_memory_type": "posix",
        }
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# tests/fakes/postgres.py\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _kill_leftover(self) -> None:
        pid = self._postmaster_pid() or self.pid
        if pid is None or not _pid_alive(pid):
            return
        # SIGQUIT is postgres's immediate shutdown (children exit too); SIGKILL as last resort.
        for sig, wait in ((signal.SIGQUIT, 10), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            if _wait_gone(pid, wait):
                return

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _cleanup_dir(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster():
    """A running `PostgresCluster` (database `sco`) for the session; fails if PostgreSQL is
    missing rather than skipping."""
    try:
        cluster = PostgresCluster().start()
    except LakeServiceUnavailable as exc:
        pytest.fail(f"postgres_cluster: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
