"""`sco-etl server start|stop|status` with real processes, and the commands that use it.

Issue 11, item 2, and issue 19: a flow command that finds no server starts one, which stops
itself when unused. One server serves the first tests of the module (a start takes ~10 s):
they run in file order, from `start` to `stop`; the later ones start servers of their own.

By hand: `sco-etl rates` (says it started a server), `sco-etl server status`,
`sco-etl server stop`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from pytest_httpserver import HTTPServer

from sco_etl.flows import background_server
from sco_etl.flows.server import free_port, is_healthy
from sco_etl.schemas.clock import MOSCOW
from sco_etl.warehouse import Warehouse
from tests.deploy.schedule_support import ROOT, kill_tree, listening, subprocess_env
from tests.fakes.cbr_server import FakeCbr

SCO_ETL = Path(sys.executable).parent / "sco-etl"
STARTED = re.compile(r"^started a sco-etl server at (http://127\.0\.0\.1:\d+) in \d+\.\d s for "
                     r"this and later runs; it stops itself after (.+) without use "
                     r"\(`sco-etl server stop` stops it now\)$", re.MULTILINE)


def sco_etl(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the console script; its exit status and stdout + stderr."""
    done = subprocess.run([str(SCO_ETL), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def module_cbr(cbr_history):
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.expect_request(re.compile(r"^/.*$")).respond_with_handler(FakeCbr(cbr_history))
    server.start()
    yield server.url_for("/scripts/")
    server.stop()


@pytest.fixture(scope="module")
def env(module_cbr, tmp_path_factory) -> dict[str, str]:
    """A data directory of its own, the fake CBR, a free port for the server."""
    root = tmp_path_factory.mktemp("server")
    return subprocess_env(root / "client-home", SCO_ETL_DATA_DIR=str(root / "data"),
                          SCO_ETL_CBR_URL=module_cbr, SCO_ETL_HTTP_BACKOFF="0.01",
                          PREFECT_SERVER_API_PORT=str(free_port(None)), COLUMNS="200")


@pytest.fixture(scope="module")
def server(env) -> dict:
    """`sco-etl server start`, once for the module; what it recorded in `server.json`."""
    status, output = sco_etl(["server", "start"], env)
    assert status == 0, output
    state = Path(env["SCO_ETL_DATA_DIR"]) / "prefect" / "server.json"
    record = json.loads(state.read_text())
    yield {**record, "state": state, "start_output": output}
    if state.exists():  # a test failed before `stop`: nothing may outlive the module
        kill_tree(record["pid"])


def flow_runs(url: str, flow_name: str) -> list[dict]:
    answer = httpx.post(f"{url}/api/flow_runs/filter",
                        json={"flows": {"name": {"any_": [flow_name]}}}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def test_start_leaves_a_recorded_server_running_that_status_shows(server, env):
    assert f"sco-etl server running at {server['url']}" in server["start_output"]
    assert "it stops itself after an hour without use" in server["start_output"]
    assert server["idle_minutes"] == 60
    assert server["url"] == f"http://127.0.0.1:{env['PREFECT_SERVER_API_PORT']}"
    assert psutil.Process(server["pid"]).is_running()  # it outlived `server start`
    assert is_healthy(server["url"])
    status, output = sco_etl(["server", "status"], env)
    assert status == 0 and f"running at {server['url']} (pid {server['pid']}" in output
    status, output = sco_etl(["status"], env)  # no warehouse yet: said, with the server
    assert status == 0, output
    assert f"prefect server {server['url']} (the sco-etl server, pid {server['pid']}" in output
    assert "it stops itself after an hour without use)" in output


def test_start_when_running_says_where_and_exits_0(server, env):
    status, output = sco_etl(["server", "start"], env)
    assert (status, output.strip()) == (
        0, f"sco-etl server already running at {server['url']} (pid {server['pid']})")


def test_rates_records_its_flow_run_on_the_server_and_starts_no_temporary_one(server, env):
    status, output = sco_etl(["rates"], env)
    assert status == 0, output
    assert "temporary" not in output and not STARTED.search(output)
    runs = flow_runs(server["url"], "ingest-rates")
    today = dt.datetime.now(MOSCOW).date()
    assert [(r["name"], r["state_type"]) for r in runs] == [(f"rates-{today}", "COMPLETED")]
    # A terminal run sends no heartbeats (their thread held every run's end up to 1 s).
    events = flow_run_events(server["url"], runs[0]["id"])
    assert "prefect.flow-run.Completed" in events and "prefect.flow-run.heartbeat" not in events


def test_the_server_is_idle_only_when_unused(server, env):
    home = Path(env["SCO_ETL_DATA_DIR"]) / "prefect"
    used = (home / "last-used").stat().st_mtime  # the rates run above touched it
    assert not background_server.is_idle(home, server["url"], 60, now=used + 30)
    # an hour on, with its flow runs finished and no deployment polled: idle
    assert background_server.is_idle(home, server["url"], 3600, now=used + 3601)


def flow_run_events(url: str, flow_run_id: str, timeout: float = 60.0) -> list[str]:
    """The names of a finished flow run's events, once its Completed event is recorded (the
    server records events as they stream in; an earlier event arrives before a later one)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.post(f"{url}/api/events/filter", timeout=10, json={
            "filter": {"resource": {"id": [f"prefect.flow-run.{flow_run_id}"]},
                       "occurred": {"since": "2000-01-01T00:00:00Z"}},
            "limit": 50})
        answer.raise_for_status()
        names = [event["event"] for event in answer.json()["events"]]
        if "prefect.flow-run.Completed" in names or time.monotonic() > deadline:
            return names
        time.sleep(0.2)


def test_serve_uses_the_running_server_and_leaves_it_running(server, env, tmp_path):
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serving = subprocess.Popen(
            [str(SCO_ETL), "serve", "--deployment", "freshness", "--cron", "0 0 1 1 *"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not _deployments(server["url"]):
            assert serving.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        # registered on this server; the runner polls it until Ctrl-C
        os.killpg(serving.pid, signal.SIGINT)
        assert serving.wait(60) == 0, log.read_text()
    finally:
        kill_tree(serving.pid)
    text = log.read_text()
    assert f"serving against the sco-etl server at {server['url']}" in text
    assert "Prefect UI" not in text  # no server of its own
    assert _deployments(server["url"]) == ["freshness"]
    assert is_healthy(server["url"])


def test_stop_ends_every_process_removes_the_record_and_frees_the_port(server, env):
    group = [p for p in psutil.process_iter() if _pgid(p) == server["pid"]]
    status, output = sco_etl(["server", "stop"], env)
    assert (status, output.strip()) == (
        0, f"stopped the sco-etl server at {server['url']} (pid {server['pid']})")
    _, alive = psutil.wait_procs(group, timeout=0)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    assert not server["state"].exists()
    assert not listening(server["port"])
    assert sco_etl(["server", "stop"], env) == (0, "no sco-etl server running\n")


def test_a_stale_record_is_cleaned_up_and_a_run_starts_a_server_saying_so_once(env, tmp_path):
    home = tmp_path / "data" / "prefect"
    home.mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    state = home / "server.json"
    state.write_text(json.dumps({"pid": int(finished.stdout), "port": 1, "log": "gone.log",
                                 "url": "http://127.0.0.1:1", "started_at": "2025-04-01"}))
    here = {**env, "SCO_ETL_DATA_DIR": str(tmp_path / "data"),
            "PREFECT_SERVER_API_PORT": str(free_port(None))}
    assert sco_etl(["server", "status"], here) == (
        0, "no sco-etl server running: the next `sco-etl rates`, `news` or `maintain` starts "
           "one\n")
    assert not state.exists()
    try:
        status, output = sco_etl(["rates"], here)
        assert status == 0, output
        (line,) = [line for line in output.splitlines() if "sco-etl server" in line]
        url, idle = STARTED.match(line).groups()
        assert (url, idle) == (f"http://127.0.0.1:{here['PREFECT_SERVER_API_PORT']}", "an hour")
        record = json.loads(state.read_text())
        assert is_healthy(url) and record["url"] == url
        assert [r["state_type"] for r in flow_runs(url, "ingest-rates")] == ["COMPLETED"]
        status, output = sco_etl(["rates"], here)  # the next run uses it, silently
        assert status == 0 and "sco-etl server" not in output, output
        assert len(flow_runs(url, "ingest-rates")) == 2
    finally:
        stopped = sco_etl(["server", "stop"], here)
    assert stopped[1].startswith("stopped the sco-etl server")


def test_an_unused_server_stops_itself(env, tmp_path):
    here = {**env, "SCO_ETL_DATA_DIR": str(tmp_path / "data"),
            "PREFECT_SERVER_API_PORT": str(free_port(None)), "SCO_ETL_SERVER_IDLE_MINUTES": "0.1"}
    state = tmp_path / "data" / "prefect" / "server.json"
    status, output = sco_etl(["rates"], here)
    assert status == 0, output
    assert STARTED.search(output).group(2) == "0.1 minutes"
    try:
        record = json.loads(state.read_text())
    except FileNotFoundError:
        record = None  # it was quicker than us: six seconds after the run
    deadline = time.monotonic() + 120
    while state.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not state.exists()
    if record is not None:
        group = [p for p in psutil.process_iter() if _pgid(p) == record["pid"]]
        _, alive = psutil.wait_procs(group, timeout=30)
        assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
        assert not listening(record["port"])
    log = (tmp_path / "data" / "prefect" / "server.log").read_text()
    assert "sco-etl: stopped after 0.1 minutes without use" in log


def test_two_runs_at_once_start_one_server(env, tmp_path):
    here = {**env, "SCO_ETL_DATA_DIR": str(tmp_path / "data"),
            "PREFECT_SERVER_API_PORT": str(free_port(None))}
    Warehouse(tmp_path / "data").migrate()  # the server is the question here, not a new lake
    runs = [subprocess.Popen([str(SCO_ETL), "rates"], cwd=ROOT, env=here, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(2)]
    try:
        outputs = [run.communicate(timeout=300)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        assert sorted(bool(STARTED.search(output)) for output in outputs) == [False, True]
        url = STARTED.search("".join(outputs)).group(1)
        assert len(flow_runs(url, "ingest-rates")) == 2  # both recorded on that one server
    finally:
        for run in runs:
            kill_tree(run.pid)
        sco_etl(["server", "stop"], here)


def test_a_run_beside_serve_uses_the_server_serve_started(env, tmp_path):
    """Not a second server on the same database: serve's own is recorded while it runs."""
    here = {**env, "SCO_ETL_DATA_DIR": str(tmp_path / "data"),
            "PREFECT_SERVER_API_PORT": str(free_port(None))}
    state = tmp_path / "data" / "prefect" / "server.json"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serving = subprocess.Popen(
            [str(SCO_ETL), "serve", "--deployment", "freshness", "--cron", "0 0 1 1 *"],
            cwd=ROOT, env=here, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not state.exists():
            assert serving.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        record = json.loads(state.read_text())
        assert record["serving"] is True
        status, output = sco_etl(["rates"], here)
        assert status == 0 and "sco-etl server" not in output, output
        assert len(flow_runs(record["url"], "ingest-rates")) == 1
        assert sco_etl(["server", "status"], here)[1].startswith(
            f"sco-etl server running at {record['url']} (pid {record['pid']}")
        os.killpg(serving.pid, signal.SIGINT)
        assert serving.wait(60) == 0, log.read_text()
    finally:
        kill_tree(serving.pid)
    assert not state.exists()


def test_with_auto_start_off_a_run_uses_a_temporary_server(env, tmp_path):
    here = {**env, "SCO_ETL_DATA_DIR": str(tmp_path / "data"), "SCO_ETL_AUTO_SERVER": "0"}
    status, output = sco_etl(["rates"], here)
    assert status == 0, output
    assert [line for line in output.splitlines() if "temporary" in line] == [
        "no sco-etl server running: using a temporary Prefect server (SCO_ETL_AUTO_SERVER=0)"]
    assert not (tmp_path / "data" / "prefect" / "server.json").exists()


def _deployments(url: str) -> list[str]:
    answer = httpx.post(f"{url}/api/deployments/filter", json={}, timeout=10)
    answer.raise_for_status()
    return [d["name"] for d in answer.json()]


def _pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except OSError:
        return None
