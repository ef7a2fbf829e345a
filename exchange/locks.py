"""One push at a time per (dataflow, provider): the draft's 409 "already occupied with uploading data for the same scope".

PostgreSQL: a transaction-level advisory lock per scope, released by the server when the transaction ends,
even if the hub is killed; a second push for the same scope gets 409 at once, other scopes run in parallel.
SQLite: the database has a single writer and every push opens ``BEGIN IMMEDIATE``, so pushes queue one
behind the other (the draft's "when queueing is not supported" does not arise) and never interleave.
"""

from __future__ import annotations

import zlib

from sqlalchemy import Connection, text


class ScopeBusy(Exception):
    def __init__(self, scope: str) -> None:
        super().__init__(f"A push for {scope} is already being processed; retry when it has finished.")
        self.scope = scope


class ScopeLocks:
    """The scope locks one push holds, for the length of its transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.scopes: set[str] = set()

    def acquire(self, scope: str) -> None:
        if scope in self.scopes:
            return
        if self.conn.dialect.name == "postgresql":
            key = zlib.crc32(scope.encode()) - 2**31
            if not self.conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar_one():
                raise ScopeBusy(scope)
        self.scopes.add(scope)
