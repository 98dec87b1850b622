"""`sco-etl page`: the seed page for a day as static HTML, and a loopback server for it."""

from __future__ import annotations

import contextlib
import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated

import typer

from sco_etl.flows.cli.common import KnownAtOption, console, date_option

SERVE_HOST = "127.0.0.1"


def page(
    date: Annotated[str | None, date_option("the day of the page (default: today, Moscow)")
                    ] = None,
    known_at: KnownAtOption = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="folder of the pages (default <data dir>/site)")] = None,
    serve: Annotated[bool, typer.Option(
        "--serve", help="then serve the folder on 127.0.0.1 until Ctrl-C")] = False,
    port: Annotated[int, typer.Option(min=0, max=65535, help="port of --serve")] = 8000,
) -> None:
    """Write the seed page for a day (default: today, Moscow) as static HTML."""
    from sco_etl.flows.cli import inputs
    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.schemas.clock import moscow_today
    from sco_etl.tasks.page.render import build_day

    day = inputs.day(date, "--date") or moscow_today()
    warehouse = resolve_warehouse()
    moment = inputs.known_at(known_at, warehouse)
    warehouse.require()  # before the folder of the pages is made
    folder = output or warehouse.root / "site"
    written = build_day(warehouse, day, folder, known_at=moment)
    console.print(f"[green]wrote {written.index}[/] ({written.articles} article pages, "
                  f"{written.bytes // 1024} KB)")
    if serve:
        serve_folder(folder, port)


def page_server(folder: Path, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server of `folder` on loopback only (port 0: any free one)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    return ThreadingHTTPServer((SERVE_HOST, port), handler)


def serve_folder(folder: Path, port: int) -> None:
    """Serve `folder` until Ctrl-C."""
    with page_server(folder, port) as server:
        console.print(f"serving {folder} at http://{SERVE_HOST}:{server.server_port}/ "
                      "(Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
