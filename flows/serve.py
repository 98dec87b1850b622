"""`sco-etl serve`: every deployment of `prefect.yaml` on its schedule, in one command.

With `PREFECT_API_URL` set it serves against that API; else against the `sco-etl server`
running in the background, if one is. Else it starts a Prefect server of its own on loopback,
with its database and logs under `<data dir>/prefect/`, and on Ctrl-C or SIGTERM stops the
runner first (so it can pause its schedules), then the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from sco_etl.flows import deployments
from sco_etl.flows.background_server import (
    configured_api_url,
    prefect_home,
    read_record,
    recorded,
)
from sco_etl.flows.server import HOST, LocalServer, ServeError, is_healthy, port_in_use, server_port
from sco_etl.schemas.errors import ConfigError

RUN_LIMIT = 2
"""Flow runs at once: rates and news write different tables; more would starve 2 cores."""
SERVED_TAG = "served"


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
    home = prefect_home(data_dir)
    with _stop_on_sigterm():
        api_url = configured_api_url()
        background = None if api_url else read_record(home)
        if api_url:
            echo(f"serving against the Prefect API at {api_url}")
            _run(_deployments(specs), limit, echo)
        elif background is not None and is_healthy(background.url):
            echo(f"serving against the sco-etl server at {background.url} "
                 f"(`sco-etl server stop` stops it)")
            _run_against(background.api_url, _deployments(specs), limit, echo)
        else:
            _serve_with_own_server(home, specs, limit, echo)
    echo("stopped")


def _serve_with_own_server(home: Path, specs: list[deployments.DeploymentSpec], limit: int,
                           echo: Callable[[str], None]) -> None:
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
        with recorded(home, server):  # other terminals' runs go to it too
            _run_against(server.api_url, served, limit, echo)
    finally:
        server.stop()


def _run_against(api_url: str, served: list, limit: int, echo: Callable[[str], None]) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # The runner hands its settings to the flow-run processes it starts.
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        _run(served, limit, echo)


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
