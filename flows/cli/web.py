"""`sco-etl web`: the warehouse as an HTTP API and a live site."""

from __future__ import annotations

from typing import Annotated

import typer

from sco_etl.flows.cli.common import console, errors


def web(
    host: Annotated[str, typer.Option(
        help="address to listen on: loopback by default; 0.0.0.0 serves every interface")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
) -> None:
    """Serve the warehouse: the API under /api/v1/ (JSON, CSV, NDJSON) and the site, until
    Ctrl-C. Read-only; any number of instances can serve one warehouse."""
    import uvicorn

    from sco_etl.flows.config import resolve_warehouse
    from sco_etl.flows.web.app import create_app
    from sco_etl.schemas.errors import WarehouseError

    warehouse = resolve_warehouse()
    try:
        warehouse.require()
    except WarehouseError as error:
        errors.print(f"{error}; until then every answer is 503", style="yellow",
                     highlight=False, soft_wrap=True)
    console.print(f"serving {warehouse.location} at http://{host}:{port}/ — API "
                  f"http://{host}:{port}/api/v1/ (docs /api/v1/docs); Ctrl-C stops",
                  soft_wrap=True, highlight=False)
    uvicorn.run(create_app(warehouse), host=host, port=port, log_level="warning",
                access_log=False, server_header=False)
