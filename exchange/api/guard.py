"""Refuse, before any route runs, request paths and query strings holding characters XML 1.0 cannot carry.

No SDMX identifier, key, period or parameter value may hold them (SDMX-ML is XML 1.0; XML 1.0 section 2.2,
production [2] Char), and PostgreSQL refuses a NUL in any text value: without this check such a value
reached the database as a 500, or was echoed into an SDMX-ML error message that was then ill-formed XML.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from exchange.api.errors import error_response
from exchange.rows import XML_ILLEGAL


class XmlCharacterGuard:
    """ASGI middleware: 400 for a decoded path or query-string name or value holding an XML-illegal character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _problem(scope)
            if problem is not None:
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
                response = error_response(scope["method"], scope["path"], 400, problem, headers.get("accept"))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _problem(scope: Scope) -> str | None:
    """What is wrong with the request line, or None. The message names the character by code point and never
    repeats it raw."""
    found = _illegal(scope["path"])
    if found is not None:
        return _message("The URL path", found)
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):  # decoded as Starlette does (UTF-8)
        for part, text in (("name", name), ("value", value)):
            found = _illegal(text)
            if found is not None:
                return _message(f"The query parameter {part} {_quote(name)!r}" if part == "value"
                                else "A query parameter name", found)
    return None


def _illegal(text: str) -> tuple[int, int] | None:
    match = XML_ILLEGAL.search(text)
    return None if match is None else (ord(match.group()), match.start() + 1)


def _quote(text: str) -> str:
    return XML_ILLEGAL.sub("?", text)[:60]


def _message(where: str, found: tuple[int, int]) -> str:
    code_point, position = found
    return (f"{where} holds the character U+{code_point:04X} at character {position}, which SDMX (XML 1.0) cannot "
            "carry. Remove control characters (other than tab, line feed and carriage return) from the request.")
