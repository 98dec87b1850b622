"""prefect.yaml as the one source of the deployments, and the parts of `sco-etl serve`."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from zoneinfo import ZoneInfo

import pytest

from sco_etl.flows import deployments
from sco_etl.flows.serve import serve
from sco_etl.flows.server import ServeError, server_environment, server_port
from sco_etl.schemas.errors import ConfigError
from tests.deploy.schedule_support import cron_at, minutes_ahead

UTC = ZoneInfo("UTC")


def test_prefect_yaml_declares_rates_news_freshness_and_maintenance():
    specs = {s.name: s for s in deployments.load_specs()}
    assert list(specs) == ["rates", "news", "freshness", "maintenance"]
    assert specs["maintenance"].schedules == ({"cron": "30 3 * * 0",
                                               "timezone": "Europe/Moscow"},)
    assert specs["maintenance"].parameters == {"retention_days": 90}
    assert specs["maintenance"].entrypoint == "sco_etl.flows.maintain.maintain_warehouse"
    assert specs["rates"].schedules == ({"cron": "15 16,19 * * *", "timezone": "Europe/Moscow"},)
    assert specs["news"].schedules == ({"cron": "5,35 * * * *", "timezone": "Europe/Moscow"},)
    assert specs["news"].parameters == {"fetch_articles": True}
    assert specs["freshness"].parameters == {"rates_grace_hours": 4, "news_max_age_hours": 48}
    assert specs["rates"].entrypoint == "sco_etl.flows.rates.ingest_rates"
    assert all("sco-etl" in s.tags and s.description for s in specs.values())


def test_rates_runs_fire_after_cbr_publishes_at_1530_moscow():
    # The server's own schedule code: the dates its scheduler will create runs for.
    from prefect.server.schemas.schedules import CronSchedule

    (rates,) = deployments.schedules(deployments.select(deployments.load_specs(), ["rates"])[0])
    schedule = CronSchedule(cron=rates.cron, timezone=rates.timezone)
    fires = asyncio.run(schedule.get_dates(n=4, start=dt.datetime(2025, 4, 1, tzinfo=UTC)))
    # Moscow is UTC+3: 16:15 and 19:15 MSK are 13:15 and 16:15 UTC, every day.
    assert [f.astimezone(UTC).strftime("%d %H:%M") for f in fires] == [
        "01 13:15", "01 16:15", "02 13:15", "02 16:15"]


def test_served_deployments_are_the_prefect_yaml_ones():
    specs = deployments.load_specs()
    served = deployments.runner_deployments(specs, extra_tags=("served",))
    assert [d.name for d in served] == [s.name for s in specs]
    by_name = {d.name: d for d in served}
    for spec in specs:
        deployment = by_name[spec.name]
        assert deployment.tags == [*spec.tags, "served"]
        assert deployment.parameters == spec.parameters
        assert deployment.description == spec.description
        assert deployment.work_pool_name is None
        assert [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules] == [
            (e["cron"], e["timezone"]) for e in spec.schedules]
    assert by_name["rates"].entrypoint == "sco_etl.flows.rates.ingest_rates"
    assert by_name["rates"].concurrency_limit == 1
    assert by_name["rates"].concurrency_options.collision_strategy == "CANCEL_NEW"


def test_a_schedule_override_replaces_every_schedule_of_the_spec():
    (rates,) = deployments.select(deployments.load_specs(), ["rates"])
    fast = deployments.with_schedule(rates, interval=5)
    assert fast.schedules == ({"interval": 5},)
    assert deployments.schedules(fast)[0].interval == dt.timedelta(seconds=5)
    moscow = deployments.with_schedule(rates, cron="30 12 * * *", timezone="Europe/Moscow")
    assert deployments.schedules(moscow)[0].timezone == "Europe/Moscow"
    with pytest.raises(ConfigError, match="exactly one"):
        deployments.with_schedule(rates, cron="* * * * *", interval=5)


def test_an_unknown_deployment_name_is_a_config_error():
    with pytest.raises(ConfigError, match="no deployment called weather"):
        deployments.select(deployments.load_specs(), ["weather"])


def test_a_missing_flow_module_is_a_config_error():
    spec = deployments.DeploymentSpec(name="later", entrypoint="sco_etl.flows.not_yet.later")
    with pytest.raises(ConfigError, match=r"sco_etl\.flows\.not_yet\.later does not exist"):
        deployments.runner_deployments([spec])


def test_a_missing_prefect_yaml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        deployments.load_specs(tmp_path / "prefect.yaml")


def test_server_port_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("PREFECT_SERVER_API_PORT", "4999")
    assert server_port() == 4999
    monkeypatch.setenv("PREFECT_SERVER_API_PORT", "web")
    with pytest.raises(ConfigError, match="PREFECT_SERVER_API_PORT"):
        server_port()


def test_the_embedded_server_keeps_its_database_under_the_data_dir(tmp_path):
    env = server_environment(tmp_path / "prefect", {"PREFECT_API_URL": "http://elsewhere/api"})
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect")
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == (
        f"sqlite+aiosqlite:///{tmp_path / 'prefect' / 'prefect.db'}")
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert "PREFECT_API_URL" not in env


def test_cron_at_fires_on_the_given_minutes_across_an_hour():
    now = dt.datetime(2025, 4, 1, 13, 58, 40, tzinfo=UTC)
    targets = minutes_ahead(now, dt.timedelta(seconds=30), 3)
    assert [t.strftime("%H:%M") for t in targets] == ["14:00", "14:01", "14:02"]
    assert cron_at(minutes_ahead(now, dt.timedelta(0), 3)) == "0,1,59 13,14 * * *"


def test_serve_refuses_a_configured_port_that_is_taken(tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("PREFECT_SERVER_API_PORT", str(port))
        with temporary_settings(updates={PREFECT_API_URL: None}), pytest.raises(
                ServeError, match=f"port {port} on 127.0.0.1 is in use"):
            serve(tmp_path / "data", ["freshness"], echo=lambda line: None)
    assert not (tmp_path / "data").exists()
