"""What each request did, for operators (issue #15): a request id, request metrics, one log line per request.

``X-Request-ID`` from the client is kept (reduced to letters, digits and ``._:-``, at most 64) or a new one is
made; it is returned in the answer's ``X-Request-ID`` header. With ``EXCHANGE_LOG_FORMAT=json`` every request
is logged as one JSON line on stderr: method, route template, path, status, duration, request id, and the
data provider and submission id where there is one. Never a token, an Authorization header, a query string
or a body.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.api.metrics import observe_request
from exchange.ingest import PushRecord

log = logging.getLogger("exchange.request")

REQUEST_ID_HEADER = "X-Request-ID"
_UNSAFE = re.compile(r"[^A-Za-z0-9._:\-]")
#: What the current request has learned so far (request id, provider, submission): a dict shared with the
#: threads that serve it (contextvars are copied into them; the dict itself is the same object).
CURRENT: ContextVar[dict[str, Any] | None] = ContextVar("exchange_request", default=None)


def note(**fields: Any) -> None:
    """Add fields to the current request's log line (no-op outside a request)."""
    current = CURRENT.get()
    if current is not None:
        current.update(fields)


def note_push(conn: Connection, push: PushRecord) -> None:
    """A push listener: the submission id goes on the request's log line."""
    note(submission=push.submission_id)


def request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"x-request-id":
            cleaned = _UNSAFE.sub("", value.decode("latin-1"))[:64]
            if cleaned:
                return cleaned
    return uuid.uuid4().hex


class RequestObserver:
    """ASGI middleware (outermost): request id header, request metrics and the request's log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fields: dict[str, Any] = {"request_id": request_id(scope.get("headers", []))}
        token = CURRENT.set(fields)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = fields["request_id"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "(unmatched)"
            observe_request(scope["method"], route, status, seconds)
            log.info("%s %s %s", scope["method"], route, status, extra={"request": {
                "method": scope["method"], "route": route, "path": scope["path"], "status": status,
                "duration_ms": round(seconds * 1000, 2), **fields}})
            CURRENT.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a request's fields when it is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                                "level": record.levelname.lower(), "logger": record.name}
        request = getattr(record, "request", None)
        line.update(request if isinstance(request, dict) else {"message": record.getMessage()})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(log_format: str) -> None:
    """``json``: the hub's loggers write JSON lines to stderr; ``text``: left to uvicorn's access log."""
    hub_logger = logging.getLogger("exchange")
    if log_format != "json" or any(isinstance(h.formatter, JsonFormatter) for h in hub_logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    hub_logger.addHandler(handler)
    hub_logger.setLevel(logging.INFO)
    hub_logger.propagate = False


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's own lines (start-up, errors) as JSON too, and no access log (the hub writes its own line)."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": "exchange.api.observe.JsonFormatter"}},
            "handlers": {"stderr": handler},
            "loggers": {"uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                        "uvicorn.error": {"level": "INFO"},
                        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False}}}
