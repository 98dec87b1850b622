"""`sco-etl server start|stop|status`, and how the flow commands find that server."""

from __future__ import annotations

import typer

from sco_etl.flows import background_server
from sco_etl.flows.cli.common import _fail, console, errors
from sco_etl.flows.config import resolve_data_dir
from sco_etl.flows.server import is_healthy
from sco_etl.schemas.errors import ScoEtlError

server_app = typer.Typer(
    help="A Prefect server in the background: runs appear in its UI and start faster.",
    no_args_is_help=True)


def _say(line: str) -> None:
    console.print(line, soft_wrap=True)  # URLs and paths stay whole on a narrow terminal


@server_app.command()
def start() -> None:
    """Start a Prefect server on 127.0.0.1 that outlives this command.

    Port PREFECT_SERVER_API_PORT, else 4200 when free, else any free port; its database and
    log under <data dir>/prefect/. `rates`, `news`, `maintain` and `serve` then use it.
    """
    home = background_server.prefect_home(resolve_data_dir())
    try:
        started = background_server.start(home)
    except ScoEtlError as error:
        _fail(error)
    record = started.record
    if started.seconds is None:
        _say(f"sco-etl server already running at {record.url} (pid {record.pid})")
        return
    _say(f"[green]sco-etl server running at {record.url}[/] (pid {record.pid}, started in "
         f"{started.seconds:.1f} s; log {record.log})")
    _say(f"Prefect UI: {record.url}   `sco-etl server stop` stops it")


@server_app.command()
def stop() -> None:
    """Stop the background server and every process it started."""
    home = background_server.prefect_home(resolve_data_dir())
    try:
        record = background_server.stop(home)
    except ScoEtlError as error:
        _fail(error)
    if record is None:
        _say("no sco-etl server running")
        return
    _say(f"stopped the sco-etl server at {record.url} (pid {record.pid})")


@server_app.command()
def status() -> None:
    """Whether a background server runs, and where."""
    record = background_server.read_record(
        background_server.prefect_home(resolve_data_dir()))
    if record is None:
        _say(f"no sco-etl server running: {background_server.TEMPORARY}")
    elif not is_healthy(record.url):
        _say(f"[yellow]the sco-etl server at {record.url} (pid {record.pid}) does not "
             "answer[/]: `sco-etl server stop` ends it")
    else:
        _say(f"sco-etl server running at {record.url} (pid {record.pid}, since "
             f"{record.started_at}; log {record.log})")


def use_background_server() -> None:
    """Before a command runs flows: record them on the background server if one runs, else
    say in one line that each starts a temporary Prefect server."""
    target = background_server.connect(background_server.prefect_home(resolve_data_dir()))
    if target.note:
        errors.print(target.note, style="dim", highlight=False, soft_wrap=True)
    _without_heartbeats()


def _without_heartbeats() -> None:
    """Runs started from the terminal send Prefect no heartbeats.

    Prefect's heartbeat thread sleeps in one-second steps, and a flow run's end waits for it:
    0–1 s (0.5 s on average) added to every command. Heartbeats let Prefect notice a crashed
    run of a deployment; scheduled runs (`sco-etl serve`) keep them. A terminal run that
    fails is marked Failed or Crashed by the engine itself; only a SIGKILL leaves it Running.
    """
    import prefect.context

    current = prefect.context.GLOBAL_SETTINGS_CONTEXT
    prefect.context.GLOBAL_SETTINGS_CONTEXT = prefect.context.SettingsContext(
        profile=current.profile,
        settings=current.settings.copy_with_update(updates={"flows.heartbeat_frequency": None}))
