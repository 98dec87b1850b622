"""`sco-etl server start|stop|status`, and how the flow commands find — or start — that server."""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Annotated

import typer

from sco_etl.flows.cli.common import Commands, console, errors

server_app = Commands(
    help="A Prefect server in the background: runs appear in its UI and start faster.",
    no_args_is_help=True)


def _say(line: str) -> None:
    console.print(line, soft_wrap=True)  # URLs and paths stay whole on a narrow terminal


def _home():
    from sco_etl.flows.background_server import prefect_home
    from sco_etl.flows.config import resolve_data_dir

    return prefect_home(resolve_data_dir())


@server_app.command()
def start(
    idle_minutes: Annotated[float | None, typer.Option(
        min=0, show_default=False,
        help="stop by itself after this many minutes without use; 0: never "
             "[default: SCO_ETL_SERVER_IDLE_MINUTES, else 60]")] = None,
) -> None:
    """Start a Prefect server on 127.0.0.1 that outlives this command.

    Port PREFECT_SERVER_API_PORT, else 4200 when free, else any free port; its database and
    log under <data dir>/prefect/. `rates`, `news`, `maintain` and `serve` then use it (they
    start it themselves when none runs).
    """
    from sco_etl.flows import background_server
    from sco_etl.flows.config import server_idle_minutes

    idle = server_idle_minutes() if idle_minutes is None else idle_minutes
    started = background_server.start(_home(), idle)
    record = started.record
    if started.seconds is None:
        _say(f"sco-etl server already running at {record.url} (pid {record.pid})")
        return
    _say(f"[green]sco-etl server running at {record.url}[/] (pid {record.pid}, started in "
         f"{started.seconds:.1f} s; it {record.lifetime}; log {record.log})")
    _say(f"Prefect UI: {record.url}   `sco-etl server stop` stops it")


@server_app.command()
def stop() -> None:
    """Stop the background server and every process it started."""
    from sco_etl.flows import background_server

    home = _home()
    record = background_server.stop(home) if home.is_dir() else None
    if record is None:
        _say("no sco-etl server running")
        return
    _say(f"stopped the sco-etl server at {record.url} (pid {record.pid})")


@server_app.command()
def status() -> None:
    """Whether a background server runs, and where."""
    from sco_etl.flows import background_server
    from sco_etl.flows.server import is_healthy

    home = _home()
    record = background_server.read_record(home) if home.is_dir() else None
    if record is None:
        _say("no sco-etl server running: the next `sco-etl rates`, `news` or `maintain` "
             "starts one")
    elif not is_healthy(record.url):
        _say(f"[yellow]the sco-etl server at {record.url} (pid {record.pid}) does not "
             "answer[/]: `sco-etl server stop` ends it")
    else:
        _say(f"sco-etl server running at {record.url} (pid {record.pid}, since "
             f"{record.started_at}; it {record.lifetime}; log {record.log})")


def use_background_server(*modules: str) -> None:
    """Before a command runs flows: record them on a Prefect server that outlives it.

    `PREFECT_API_URL` (environment or Prefect profile) wins. Else the runs go to this data
    directory's `sco-etl server`, which is started when none runs (one line says so) and
    stops itself after SCO_ETL_SERVER_IDLE_MINUTES without use; with SCO_ETL_AUTO_SERVER=0,
    or when it cannot start, each run starts a temporary Prefect server instead (one line
    says so too). `modules`, the command's flows, are imported while the server boots.
    """
    from sco_etl.flows import background_server
    from sco_etl.flows.config import auto_server, server_idle_minutes
    from sco_etl.flows.server import ServeError

    home = _home()
    starting, note = None, None
    # A process that has Prefect loaded already (tests, a notebook) asks it; a fresh command
    # launches the server first and asks Prefect's settings while both load.
    loaded = "prefect" in sys.modules and background_server.configured_api_url()
    if not (os.environ.get("PREFECT_API_URL") or loaded):
        if auto_server():
            try:
                starting = background_server.begin(home, server_idle_minutes())
            except ServeError as error:
                note = f"cannot start a sco-etl server ({error}): using a temporary Prefect server"
        else:
            record = background_server.running(home)
            starting = background_server.Starting(home, record) if record else None
            note = None if record else ("no sco-etl server running: using a temporary "
                                        "Prefect server (SCO_ETL_AUTO_SERVER=0)")
    fresh = "prefect" not in sys.modules
    try:
        for module in modules:
            importlib.import_module(module)
        if fresh:  # not in a process that was running before (tests, a notebook)
            _settle()
        if background_server.configured_api_url():  # the environment's, or a profile's
            if starting is not None:
                starting.abandon()
            starting, note = None, None
        started = starting.ready() if starting is not None else None
    except ServeError as error:
        started = None
        note = f"the sco-etl server did not start ({error}): using a temporary Prefect server"
    except BaseException:
        if starting is not None:
            starting.abandon()
        raise
    if started is not None:
        background_server.use(home, started.record)
    _without_heartbeats()
    if started is None and note:
        errors.print(note, style="dim", highlight=False, soft_wrap=True)
    elif started is not None and started.seconds is not None:
        record = started.record
        errors.print(f"started a sco-etl server at {record.url} in {started.seconds:.1f} s for "
                     f"this and later runs; it {record.lifetime} (`sco-etl server stop` "
                     "stops it now)",
                     style="dim", highlight=False, soft_wrap=True)


def _settle() -> None:
    """Tune a command's process once it has loaded what it runs.

    What was loaded stays to the end: the collector need not scan it, during the run nor at
    exit (~0.5 s of CPU on two cores). Arrow allocates from the C heap, which hands freed
    memory back (see `extract.give_back_memory`); Arrow's own allocator keeps it: a full
    backfill peaks ~80 MB lower.
    """
    import pyarrow as pa

    gc.freeze()
    pa.set_memory_pool(pa.system_memory_pool())


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
