"""Against real Prefect servers: `prefect deploy` + a process worker, and `sco-etl serve`.

Two servers run side by side: one `prefect server start` that the tests drive, and the one
`sco-etl serve` starts for itself. The serve process is started first (autouse), so its start
and the wait for its scheduled minute overlap the deploy and worker tests: the module takes
about as long as its slowest part instead of the sum.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer

from sco_etl.flows import deployments
from sco_etl.flows.server import LocalServer, free_port
from sco_etl.schemas import RATES
from sco_etl.schemas.clock import MOSCOW
from sco_etl.warehouse import Warehouse
from tests.deploy.schedule_support import (
    BIN,
    ROOT,
    cron_at,
    descendants,
    kill_tree,
    listening,
    minutes_ahead,
    prefect_api,
    still_running,
    subprocess_env,
)
from tests.fakes.cbr_server import FakeCbr

POOL = "sco-etl"
# Enough for `sco-etl serve` to start a server on a new database on a busy 2-core machine;
# three consecutive minutes make a slower start cost a minute, not a failure.
STARTUP_LEAD = dt.timedelta(seconds=30)


@dataclass
class Served:
    """A running `sco-etl serve` with its own server, and what it was asked to do."""

    process: subprocess.Popen
    url: str
    data: Path
    targets: list[dt.datetime]
    log: Path


@pytest.fixture(scope="module")
def module_cbr(cbr_history):
    """A fake CBR for the whole module (the per-test `fake_cbr` is cleared after each test)."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.expect_request(re.compile(r"^/.*$")).respond_with_handler(FakeCbr(cbr_history))
    server.start()
    yield server.url_for("/scripts/")
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def served(module_cbr, tmp_path_factory):
    """`sco-etl serve` for the rates deployment, its schedule set to the minutes ahead."""
    root = tmp_path_factory.mktemp("serve")
    port = free_port(None)
    targets = minutes_ahead(dt.datetime.now(MOSCOW), STARTUP_LEAD, 3)
    env = subprocess_env(root / "home", SCO_ETL_DATA_DIR=str(root / "data"),
                         SCO_ETL_CBR_URL=module_cbr, PREFECT_SERVER_API_PORT=str(port))
    command = ["serve", "--deployment", "rates", "--cron", cron_at(targets),
               "--timezone", "Europe/Moscow"]
    process, log = _start_serve(command, env, root)
    yield Served(process, f"http://127.0.0.1:{port}", root / "data", targets, log)
    kill_tree(process.pid)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real Prefect server (~20 s to start on 2 cores, more with a new database).

    Its scheduler is off: runs here are created by the tests, never by the clock (a
    freshness run due at :45 must not reach the worker the test starts).
    """
    home = tmp_path_factory.mktemp("prefect-server")
    env = subprocess_env(home, PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false")
    with LocalServer(home, free_port(None), environ=env) as server:
        yield server


@pytest.fixture(scope="module")
def deployed(prefect_server, tmp_path_factory):
    """A process work pool, then `prefect deploy` from the project root, as the README says."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    # The API, not `prefect work-pool create`: the same call, without ~8 s of CLI start-up.
    with prefect_api(prefect_server.api_url), get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    env = subprocess_env(tmp_path_factory.mktemp("cli-home"),
                         PREFECT_API_URL=prefect_server.api_url)
    run = _cli(["deploy", "--all", "--prefect-file", "flows/prefect.yaml"], env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return [spec.name for spec in deployments.load_specs()]


def test_deploy_all_registers_names_schedules_parameters_and_pool(prefect_server, deployed):
    registered = _deployments(prefect_server.api_url)
    assert set(registered) == set(deployed)
    flow_name, rates = registered["rates"]
    assert flow_name == "ingest-rates"
    assert rates.work_pool_name == POOL
    assert rates.entrypoint == "sco_etl.flows.rates.ingest_rates"
    assert set(rates.tags) == {"sco-etl", "rates", "cbr"}
    assert [(s.schedule.cron, s.schedule.timezone) for s in rates.schedules] == [
        ("15 16,19 * * *", "Europe/Moscow")]
    assert rates.global_concurrency_limit.limit == 1
    assert rates.concurrency_options.collision_strategy == "CANCEL_NEW"
    _, freshness = registered["freshness"]
    assert freshness.parameters == {"rates_grace_hours": 4, "news_max_age_hours": 48}
    assert freshness.schedules[0].schedule.cron == "45 * * * *"


def test_a_deployment_run_goes_through_a_process_worker_and_writes_rates(
    prefect_server, deployed, fake_cbr, tmp_path,
):
    from prefect import get_client
    from prefect.client.schemas.objects import StateType

    data = tmp_path / "data"
    with prefect_api(prefect_server.api_url), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("ingest-rates/rates")
        flow_run = client.create_flow_run_from_deployment(deployment.id)
    env = subprocess_env(tmp_path / "home", PREFECT_API_URL=prefect_server.api_url,
                         SCO_ETL_DATA_DIR=str(data), SCO_ETL_CBR_URL=fake_cbr.url)
    # --run-once with a limit: poll once, then wait for the submitted run to finish.
    worker = _cli(["worker", "start", "--pool", POOL, "--run-once", "--limit", "1"], env,
                  timeout=240)
    assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
    with prefect_api(prefect_server.api_url), get_client(sync_client=True) as client:
        finished = client.read_flow_run(flow_run.id)
    assert finished.state.type == StateType.COMPLETED, finished.state
    assert finished.name.startswith("rates-")
    rows = Warehouse(data).read(RATES)
    assert rows.num_rows > 0
    assert "CNY" in set(rows.column("char_code").to_pylist())
    assert fake_cbr.requests["XML_daily.asp"] > 0


def test_serve_against_an_existing_server_starts_none_and_stops_on_sigterm(
    prefect_server, tmp_path,
):
    env = subprocess_env(tmp_path / "home", PREFECT_API_URL=prefect_server.api_url,
                         SCO_ETL_DATA_DIR=str(tmp_path / "data"))
    started = dt.datetime.now(dt.UTC)
    process, log = _start_serve(["serve", "--deployment", "freshness"], env, tmp_path)
    try:
        # Registered, and its runner polling for runs (so its SIGTERM handler is installed).
        served = _wait(lambda: _served(prefect_server.api_url, "freshness", started),
                       process, log, 120)
        assert served.parameters == {"rates_grace_hours": 4, "news_max_age_hours": 48}
        assert not (tmp_path / "data" / "prefect").exists()
        children = descendants(process.pid)
        assert not [c for c in children if "server" in " ".join(c.cmdline())]
        os.killpg(process.pid, signal.SIGTERM)  # as a service manager stops it
        process.wait(timeout=60)
        output = log.read_text()
        assert process.returncode == 0, output
        # Prefect's own lines go to the run's log file, not the terminal (issue 11).
        assert "All deployments have been paused!" in run_logs(tmp_path / "data")
        assert f"serving against the Prefect API at {prefect_server.api_url}" in output
        assert still_running(children, timeout=10) == []
    finally:
        kill_tree(process.pid)


def test_serve_fires_the_scheduled_run_then_ctrl_c_leaves_nothing_running(served):
    process, url, log = served.process, served.url, served.log
    _wait(lambda: _ok(f"{url}/api/health"), process, log, timeout=180)
    assert httpx.get(url, timeout=10).status_code == 200  # the UI
    assert (served.data / "prefect" / "prefect.db").exists()
    remaining = (served.targets[-1] - dt.datetime.now(MOSCOW)).total_seconds()
    run = _wait(lambda: _completed_run(f"{url}/api"), process, log,
                timeout=max(remaining, 0) + 90)
    # Fired by the schedule, at one of the minutes asked for, in Moscow time.
    assert run.auto_scheduled
    assert run.name.startswith("rates-")
    assert run.expected_start_time in served.targets
    assert Warehouse(served.data).read(RATES).num_rows > 0
    tree = descendants(process.pid)
    assert any("server" in " ".join(p.cmdline()) for p in tree)

    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=90)
    output = log.read_text()
    assert process.returncode == 0, output
    assert f"Prefect UI: {url}" in output
    assert still_running(tree, timeout=15) == []
    assert not listening(int(url.rsplit(":", 1)[1]))


def run_logs(data_dir: Path) -> str:
    """Everything the runs of `sco-etl` logged under `<data dir>/logs/`."""
    return "".join(p.read_text() for p in sorted((data_dir / "logs").glob("*.log")))


def _cli(args: list[str], env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "prefect"), *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _deployments(api_url: str) -> dict:
    from prefect import get_client

    with prefect_api(api_url), get_client(sync_client=True) as client:
        flows = {f.id: f.name for f in client.read_flows()}
        return {d.name: (flows[d.flow_id], d) for d in client.read_deployments()}


def _served(api_url: str, name: str, since: dt.datetime):
    _, deployment = _deployments(api_url).get(name, (None, None))
    if deployment is None or "served" not in deployment.tags:
        return None
    return deployment if deployment.last_polled and deployment.last_polled > since else None


def _completed_run(api_url: str):
    from prefect import get_client
    from prefect.client.schemas.objects import StateType

    with prefect_api(api_url), get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    return next((r for r in runs if r.state_type == StateType.COMPLETED), None)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _start_serve(args: list[str], env: dict, root: Path) -> tuple[subprocess.Popen, Path]:
    # Output to a file, not a pipe nobody reads while other tests run: a full pipe would
    # block the process. A session of its own: a SIGINT to its group is a terminal's Ctrl-C.
    log = root / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(BIN / "sco-etl"), *args], cwd=root, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return process, log


def _wait(probe, process: subprocess.Popen, log: Path, timeout: float):
    """Poll `probe` until it returns something truthy; fail with the process's output if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sco-etl serve exited with {process.returncode}:\n"
                        f"{log.read_text()[-4000:]}")
        result = probe()
        if result:
            return result
        time.sleep(1)
    pytest.fail(f"timed out; sco-etl serve said:\n{log.read_text()[-4000:]}")
