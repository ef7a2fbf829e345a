"""One push at a time per (dataflow, provider): the draft's 409 "already occupied with uploading data for the same scope".

PostgreSQL: a transaction-level advisory lock, released by the server even if the hub is killed.
SQLite: an in-process lock per scope (the database itself allows one writer at a time across processes).
"""

from __future__ import annotations

import threading
import zlib

from sqlalchemy import Connection, text


class ScopeBusy(Exception):
    def __init__(self, scope: str) -> None:
        super().__init__(f"A push for {scope} is already being processed; retry when it has finished.")
        self.scope = scope


_local_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


class ScopeLocks:
    """Locks held by one push; released by ``release`` (SQLite) or by the end of the transaction (PostgreSQL)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.held: list[threading.Lock] = []
        self.scopes: set[str] = set()

    def acquire(self, scope: str) -> None:
        if scope in self.scopes:
            return
        if self.conn.dialect.name == "postgresql":
            key = zlib.crc32(scope.encode()) - 2**31
            if not self.conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar_one():
                raise ScopeBusy(scope)
        else:
            with _guard:
                lock = _local_locks.setdefault(scope, threading.Lock())
            if not lock.acquire(blocking=False):
                raise ScopeBusy(scope)
            self.held.append(lock)
        self.scopes.add(scope)

    def release(self) -> None:
        for lock in self.held:
            lock.release()
        self.held.clear()
