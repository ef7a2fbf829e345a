"""503 Service Unavailable when the store is (for now) out of reach: unreachable, locked, or out of disk.

Only errors a later retry can cure become 503 with ``Retry-After`` (RFC 9110 15.6.4); a programming error
(a bad statement, a missing table) stays a 500 so it is seen and fixed, not retried.
"""

from __future__ import annotations

import logging
import sqlite3

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError

from exchange.api.errors import error_response

log = logging.getLogger(__name__)

#: Seconds a client should wait before trying again.
RETRY_AFTER_S = 30
#: SQLite primary result codes (rescode.html) a retry can cure: BUSY, LOCKED, IOERR, FULL, CANTOPEN.
SQLITE_TRANSIENT = {5: "the database is locked by another writer", 6: "the database is locked by another writer",
                    10: "the database file could not be read or written (disk error)",
                    13: "the database disk is full", 14: "the database file cannot be opened"}
#: PostgreSQL SQLSTATE classes and codes (errcodes-appendix.html) a retry can cure.
POSTGRES_TRANSIENT = {"08": "the connection to the database failed", "53": "the database server is out of resources "
                      "(disk full, memory or connections)", "57P": "the database server is shutting down or starting",
                      "55P03": "a lock the request needs is held by another transaction",
                      "58030": "the database server could not read or write its disk"}


def transient_reason(exc: DBAPIError) -> str | None:
    """Why the store cannot answer now, or None when ``exc`` is not one a retry can cure."""
    if exc.connection_invalidated:
        return "the connection to the database was lost"
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return SQLITE_TRANSIENT.get(code & 0xFF) if isinstance(code, int) else None
    sqlstate = getattr(orig, "sqlstate", "") or ""
    if not sqlstate:  # psycopg: an OperationalError without SQLSTATE is a failure to connect or a lost server
        return "the database server cannot be reached" if type(orig).__name__ == "OperationalError" else None
    for prefix, reason in POSTGRES_TRANSIENT.items():
        if sqlstate.startswith(prefix):
            return reason
    return None


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The exception handler for ``DBAPIError``: 503 with Retry-After for transient store failures, the error
    itself (a 500) for anything else."""
    assert isinstance(exc, DBAPIError)
    reason = transient_reason(exc)
    if reason is None:
        raise exc
    log.warning("503 for %s %s: %s (%s)", request.method, request.url.path, reason, exc.orig)
    message = (f"The hub cannot use its database right now: {reason}. Try again in {RETRY_AFTER_S} seconds (a push "
               "repeated unchanged is answered as the first time if it was stored), and tell the hub's operator if "
               "this persists.")
    return error_response(request.method, request.url.path, 503, message, request.headers.get("accept"),
                          {"Retry-After": str(RETRY_AFTER_S)})


async def pool_exhausted(request: Request, exc: Exception) -> Response:
    """The exception handler for SQLAlchemy's pool ``TimeoutError``: every connection stayed busy too long (503)."""
    log.warning("503 for %s %s: database connection pool exhausted (%s)", request.method, request.url.path, exc)
    message = (f"The hub is too busy to answer now: all its database connections are in use. Try again in "
               f"{RETRY_AFTER_S} seconds.")
    return error_response(request.method, request.url.path, 503, message, request.headers.get("accept"),
                          {"Retry-After": str(RETRY_AFTER_S)})
