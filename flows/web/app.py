"""The ASGI app of `sco-etl web`: the API, its OpenAPI document and docs page, and the site.

It holds no state of its own beyond caches: every answer comes from a snapshot of the
warehouse the settings point at (the local SQLite catalog, or PostgreSQL + S3), read-only, so
any number of instances can serve one warehouse. Errors are answered in a few words — a 422
naming the parameter and its valid range, a 503 with Retry-After while the warehouse cannot be
read — never with a traceback (that goes to the server's log).
"""

from __future__ import annotations

import logging
import threading

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from sco_etl.flows.web import api, encode, site
from sco_etl.flows.web.cache import SnapshotCache
from sco_etl.flows.web.inputs import BadParameter
from sco_etl.schemas.errors import NoWarehouseError, WarehouseError
from sco_etl.warehouse.api import Reader
from sco_etl.warehouse.store import Warehouse

log = logging.getLogger(__name__)
RETRY_AFTER = {NoWarehouseError: "60", WarehouseError: "5"}
"""Seconds a client should wait when the warehouse cannot be read: a missing one needs a first
run; a busy or unreachable one is usually back at once."""


class Readers:
    """The app's `Reader`, opened on first use and again after the warehouse appears: the app
    starts (and answers 503) before the first run has created it."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._reader: Reader | None = None
        self._lock = threading.Lock()

    @property
    def reader(self) -> Reader:
        with self._lock:
            if self._reader is None:
                self._reader = Reader(self.warehouse)
            return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


class LazyCache:
    """The snapshot cache, once the warehouse can be read; until then requests go straight
    to the routes, which answer 503."""

    def __init__(self, app: ASGIApp, readers: Readers) -> None:
        self.app = app
        self.readers = readers
        self.cache: SnapshotCache | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cache is None:
            try:
                self.cache = SnapshotCache(self.app, self.readers.reader)
            except WarehouseError:
                await self.app(scope, receive, send)
                return
        await self.cache(scope, receive, send)


def create_app(warehouse: Warehouse) -> FastAPI:
    """The app serving `warehouse`."""
    readers = Readers(warehouse)
    app = FastAPI(
        title="sco-etl", version="1",
        summary="Bank of Russia official rates of the SCO currencies since July 1992, exact, "
                "as published on their effective dates and as known at any moment; SCO news.",
        openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,
    )
    app.state.readers = readers
    app.include_router(api.router)
    app.include_router(site.router)
    app.add_middleware(LazyCache, readers=readers)

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

    return app


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
