"""The ASGI app of `sco-etl web`: the API, its OpenAPI document and docs page, and the site.

It holds no state of its own beyond caches: every answer comes from a snapshot of the
warehouse the settings point at (the local SQLite catalog, or PostgreSQL + S3), read-only, so
any number of instances can serve one warehouse. Errors are answered in a few words — a 422
naming the parameter and its valid range, a 503 with Retry-After while the warehouse cannot be
read — never with a traceback (that goes to the server's log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from sco_etl.flows.web import api, encode, site
from sco_etl.flows.web.cache import SnapshotCache
from sco_etl.flows.web.inputs import BadParameter
from sco_etl.schemas.errors import NoWarehouseError, WarehouseError
from sco_etl.warehouse.api import Readers
from sco_etl.warehouse.store import Warehouse

log = logging.getLogger(__name__)
RETRY_AFTER = {NoWarehouseError: "60", WarehouseError: "5"}
"""Seconds a client should wait when the warehouse cannot be read: a missing one needs a first
run; a busy or unreachable one is usually back at once."""


def create_app(warehouse: Warehouse) -> ASGIApp:
    """The app serving `warehouse`: the routes, behind the per-snapshot answer cache."""
    readers = Readers(warehouse)
    app = FastAPI(
        # No OpenTelemetry: its per-request check costs more than a kept answer.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="sco-etl", version="1",
        summary="Bank of Russia official rates of the SCO currencies since July 1992, exact, "
                "as published on their effective dates and as known at any moment; SCO news.",
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.readers = readers
    app.include_router(api.router)
    app.include_router(site.router)

    @app.get("/api/v1/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        document = app.openapi()
        html = site.TEMPLATES.get_template("api_docs.html.j2").render(api=document)
        return HTMLResponse(html)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, error: BadParameter) -> Response:
        return _error(request, 422, str(error), parameter=error.parameter, valid=error.valid)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        first = error.errors()[0] if error.errors() else {}
        where = [str(part) for part in first.get("loc", ()) if part not in ("query", "path")]
        return _error(request, 422, first.get("msg", "invalid request"),
                      parameter=".".join(where) or None)

    @app.exception_handler(WarehouseError)
    async def unreadable(request: Request, error: WarehouseError) -> Response:
        retry = RETRY_AFTER.get(type(error), RETRY_AFTER[WarehouseError])
        log.warning("the warehouse cannot be read: %s", error)
        return _error(request, 503, str(error), headers={"Retry-After": retry})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return _error(request, error.status_code, str(error.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unexpected error answering %s", request.url.path)
        return _error(request, 500, "internal error; the server's log has the details")

    return SnapshotCache(app, readers)


def _error(request: Request, status: int, message: str, parameter: str | None = None,
           valid: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """The error in the request's own language: JSON under /api, a short page elsewhere."""
    if request.url.path.startswith("/api/"):
        body = {"status": status, "message": message}
        if parameter:
            body["parameter"] = parameter
        if valid:
            body["valid"] = valid
        return Response(encode.json_object({"error": body}).encode(), status_code=status,
                        media_type="application/json", headers=headers)
    return site.error_page(status, message, headers)
