"""`sco-etl server start|stop|status` with real processes, and the commands that use it.

Issue 11, item 2. One server serves the module (a start takes ~10 s): the tests run in file
order, from `start` to `stop`.
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

from sco_etl.flows.server import free_port, is_healthy
from sco_etl.schemas.clock import MOSCOW
from tests.deploy.schedule_support import ROOT, kill_tree, listening, subprocess_env
from tests.fakes.cbr_server import FakeCbr

SCO_ETL = Path(sys.executable).parent / "sco-etl"
TEMPORARY_LINE = "using a temporary Prefect server"


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
    assert server["url"] == f"http://127.0.0.1:{env['PREFECT_SERVER_API_PORT']}"
    assert psutil.Process(server["pid"]).is_running()  # it outlived `server start`
    assert is_healthy(server["url"])
    status, output = sco_etl(["server", "status"], env)
    assert status == 0 and f"running at {server['url']} (pid {server['pid']}" in output
    status, output = sco_etl(["status"], env)
    assert status == 0, output
    assert f"prefect server {server['url']} (the sco-etl server, pid {server['pid']}" in output


def test_start_when_running_says_where_and_exits_0(server, env):
    status, output = sco_etl(["server", "start"], env)
    assert (status, output.strip()) == (
        0, f"sco-etl server already running at {server['url']} (pid {server['pid']})")


def test_rates_records_its_flow_run_on_the_server_and_starts_no_temporary_one(server, env):
    status, output = sco_etl(["rates"], env)
    assert status == 0, output
    assert TEMPORARY_LINE not in output
    runs = flow_runs(server["url"], "ingest-rates")
    today = dt.datetime.now(MOSCOW).date()
    assert [(r["name"], r["state_type"]) for r in runs] == [(f"rates-{today}", "COMPLETED")]
    # A terminal run sends no heartbeats (their thread held every run's end up to 1 s).
    events = flow_run_events(server["url"], runs[0]["id"])
    assert "prefect.flow-run.Completed" in events and "prefect.flow-run.heartbeat" not in events


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


def test_a_stale_record_is_cleaned_up_and_runs_say_once_they_use_a_temporary_server(
    env, tmp_path,
):
    home = tmp_path / "data" / "prefect"
    home.mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    state = home / "server.json"
    state.write_text(json.dumps({"pid": int(finished.stdout), "port": 1, "log": "gone.log",
                                 "url": "http://127.0.0.1:1", "started_at": "2025-04-01"}))
    here = {**env, "SCO_ETL_DATA_DIR": str(tmp_path / "data")}
    assert sco_etl(["server", "status"], here) == (
        0, "no sco-etl server running: runs start a temporary Prefect server\n")
    assert not state.exists()
    status, output = sco_etl(["status"], here)
    assert status == 0 and "prefect server none — runs start a temporary" in output, output
    status, output = sco_etl(["maintain"], here)
    assert status == 0, output
    assert [line for line in output.splitlines() if "temporary" in line] == [
        "no sco-etl server running: using a temporary Prefect server (start one with "
        "`sco-etl server start`)"]


def _deployments(url: str) -> list[str]:
    answer = httpx.post(f"{url}/api/deployments/filter", json={}, timeout=10)
    answer.raise_for_status()
    return [d["name"] for d in answer.json()]


def _pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except OSError:
        return None
