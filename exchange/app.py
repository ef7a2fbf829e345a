"""The FastAPI application: built from Settings, state on app.state (nothing at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError

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
from exchange.api.contract import hub_errors
from exchange.api.errors import error_response
from exchange.api.guard import XmlCharacterGuard
from exchange.api.unavailable import database_unavailable
from exchange.auth import AuthError
from exchange.events.dispatcher import Dispatcher
from exchange.hub import Hub, open_hub
from exchange.query import QueryError
from exchange.reconcile.lifecycle import CaseError
from exchange.rows import MessageError
from exchange.settings import Settings


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = hub is None
        app.state.hub = hub or open_hub(settings)
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
    app.add_middleware(XmlCharacterGuard)  # outermost: refuses control characters before anything reads them
    app.include_router(submissions.router)
    app.include_router(structures.router)
    app.include_router(sdmx.router)
    app.include_router(availability.router)
    app.include_router(stats.router)
    app.include_router(schema.router)
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

    @app.get("/health", tags=["service"], responses=hub_errors())
    def health(request: Request) -> dict[str, object]:
        current: Hub = request.app.state.hub
        return {"status": "ok", "version": __version__, "dataflows": sorted(
            f"{a}:{i}({v})" for a, i, v in current.catalog.dataflows)}

    # Registered after every fixed path: the 1.5 structure routes start with a free {resource} segment.
    app.include_router(structure_queries.router)
    _document(app)
    return app


def _document(app: FastAPI) -> None:
    """The OpenAPI document says what the hub takes: XML-legal text, the enumerated path values, the statuses."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            enums = {**contract.ENUMS, ("/structure/", "artefact_type"): sorted(structure_queries.V2_TYPES)}
            app.openapi_schema = contract.constrain(build(), enums)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
