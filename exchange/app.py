"""The FastAPI application: built from Settings, state on app.state (nothing at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from exchange import __version__
from exchange.api import (
    availability,
    contract,
    reconciliations,
    schema,
    sdmx,
    stats,
    structure_queries,
    structures,
    submissions,
)
from exchange.api import events as events_api
from exchange.api import metrics as metrics_routes
from exchange.api import service as service_routes
from exchange.api.contract import hub_errors
from exchange.api.errors import error_response
from exchange.api.guard import XmlCharacterGuard
from exchange.api.observe import RequestObserver, configure_logging, note_push
from exchange.api.unavailable import database_unavailable, pool_exhausted
from exchange.auth import AuthError
from exchange.events.dispatcher import Dispatcher
from exchange.hub import Hub, open_hub
from exchange.pushes import sweep_interrupted
from exchange.query import QueryError
from exchange.reconcile.lifecycle import CaseError
from exchange.rows import MessageError
from exchange.settings import Settings


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = hub is None
        app.state.hub = hub or open_hub(settings)
        sweep_interrupted(app.state.hub.engine)  # asynchronous pushes a killed hub process left "running"
        _observe(app.state.hub)
        dispatcher = Dispatcher(app.state.hub.engine, app.state.hub.settings)
        if app.state.hub.settings.dispatcher_enabled:
            dispatcher.start()
        yield
        dispatcher.stop()
        if own:
            app.state.hub.close()

    app = FastAPI(title="exchange: SDMX hub for migration statistics", version=__version__, lifespan=lifespan)
    # Compressed answers when the client sends Accept-Encoding: gzip (REST: plain HTTP compression).
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(XmlCharacterGuard)  # refuses control characters before anything reads them
    app.add_middleware(RequestObserver)  # outermost: request id, metrics and log line for every answer
    app.include_router(submissions.router)
    app.include_router(structures.router)
    app.include_router(sdmx.router)
    app.include_router(availability.router)
    app.include_router(stats.router)
    app.include_router(schema.router)
    app.include_router(service_routes.router)
    app.include_router(metrics_routes.router)
    app.include_router(reconciliations.router)
    app.include_router(events_api.router)

    @app.exception_handler(MessageError)
    async def message_error(_request: Request, exc: MessageError) -> JSONResponse:
        body = {"status": "rejected", "code": exc.status, "message": exc.issue.message, "issues": {
            "errors": 1, "warnings": 0, "first": [exc.issue.as_dict()]}}
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(AuthError)
    async def auth_error(_request: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return JSONResponse({"status": "rejected", "code": exc.status, "message": str(exc)}, exc.status, headers)

    @app.exception_handler(CaseError)
    async def case_error(_request: Request, exc: CaseError) -> JSONResponse:
        return JSONResponse({"status": "rejected", "code": exc.status, "message": str(exc), **exc.extra}, exc.status)

    @app.exception_handler(QueryError)
    async def query_error(request: Request, exc: QueryError) -> Response:
        return error_response(request.method, request.url.path, 400, str(exc), request.headers.get("accept"))

    app.add_exception_handler(DBAPIError, database_unavailable)
    app.add_exception_handler(PoolTimeout, pool_exhausted)

    @app.get("/health", tags=["service"], responses=hub_errors())
    def health(request: Request) -> dict[str, object]:
        current: Hub = request.app.state.hub
        return {"status": "ok", "version": __version__, "dataflows": sorted(
            f"{a}:{i}({v})" for a, i, v in current.catalog.dataflows)}

    # Registered after every fixed path: the 1.5 structure routes start with a free {resource} segment.
    app.include_router(structure_queries.router)
    _document(app)
    return app


def _observe(hub: Hub) -> None:
    """Metrics and request logs learn about pushes and pool connections (issue #15)."""
    for listener in (metrics_routes.observe_push, note_push):
        if listener not in hub.push_listeners:
            hub.push_listeners.append(listener)
    metrics_routes.watch_pool(hub.engine)


def app_from_environment() -> FastAPI:
    """The app factory ``exchange serve`` hands uvicorn by name, so each of ``--workers N`` builds its own."""
    return create_app(Settings())


def _document(app: FastAPI) -> None:
    """The OpenAPI document says what the hub takes: XML-legal text, the enumerated path values, the statuses."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            enums = {**contract.ENUMS, ("/structure/", "artefact_type"): sorted(structure_queries.V2_TYPES)}
            app.openapi_schema = contract.constrain(build(), enums)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
