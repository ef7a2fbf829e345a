"""Locks of a push: one push at a time per (dataflow, provider), and one writer at a time per data table.

Scope lock, the draft's 409 "already occupied with uploading data for the same scope" (PostgreSQL): a
transaction-level advisory lock per (dataflow, reporter), tried as the message is read; a second push
for the same scope gets 409 at once. It is released by the server when the transaction ends, even if the
hub is killed.

Write lock, which makes every writer of a data table (administrators and all providers alike) apply one
after the other, so two pushes never both replace the same current version:
- PostgreSQL: a transaction-level advisory lock per data table, waited for once the message is staged;
  reading and validating the message run in parallel, applying it is serialised.
- SQLite: the database has a single writer. The message is read, validated and staged in a plain (deferred)
  transaction that writes only temporary tables and so holds no lock on the database; the write phase
  then starts with BEGIN IMMEDIATE, which queues behind any other writer (busy timeout).
Advisory lock keys include the database and schema, so hubs sharing a PostgreSQL server (one schema each)
never wait for each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError


class ScopeBusy(Exception):
    def __init__(self, scope: str) -> None:
        super().__init__(f"A push for {scope} is already being processed; retry when it has finished.")
        self.scope = scope


class WriteConflict(Exception):
    """Another push wrote a current version of the same observation first (the store's unique index refused ours)."""

    def __init__(self) -> None:
        super().__init__("Another push changed some of the same observations at the same moment, so nothing of this "
                         "message was stored. Send the same message again: it will be applied on top of the other.")


def is_unique_violation(exc: IntegrityError) -> bool:
    """True for a duplicate key (PostgreSQL SQLSTATE 23505, SQLite "UNIQUE constraint failed")."""
    return getattr(exc.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(exc.orig)


class ScopeLocks:
    """The locks one push holds, for the length of its transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.scopes: set[str] = set()
        self.writing = False  # True once begin_writing has returned
        self._namespace: str | None = None

    def acquire(self, scope: str) -> None:
        """Take the (dataflow, reporter) scope lock, or raise ScopeBusy at once (PostgreSQL)."""
        if scope in self.scopes:
            return
        if self._postgres:
            query = text("SELECT pg_try_advisory_xact_lock(:k)")
            if not self.conn.execute(query, {"k": self._key("scope", scope)}).scalar_one():
                raise ScopeBusy(scope)
        self.scopes.add(scope)

    def begin_writing(self, tables: Iterable[str]) -> None:
        """End the reading part of the push and wait until it alone may write ``tables`` (data table names).

        PostgreSQL: one advisory lock per table, in name order so that two multi-table pushes cannot deadlock.
        SQLite: commit the staging transaction (temporary tables only) and begin the write transaction with
        BEGIN IMMEDIATE (see exchange.store.engine); the staged rows stay in the connection's temporary tables.
        """
        if self._postgres:
            for name in sorted(set(tables)):
                self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._key("table", name)})
        else:
            self.conn.commit()
            self.conn.execution_options(write=True)
            self.conn.begin()  # emits BEGIN IMMEDIATE now: the push waits here for the database's write lock
        self.writing = True

    @property
    def _postgres(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    def _key(self, kind: str, name: str) -> int:
        """A signed 64-bit advisory lock key for ``name`` in this database and schema."""
        if self._namespace is None:
            query = text("SELECT current_database() || '.' || coalesce(current_schema(), '')")
            self._namespace = str(self.conn.execute(query).scalar_one())
        digest = hashlib.blake2b(f"{self._namespace}\x1f{kind}\x1f{name}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)
