"""Real hub processes for tests that must go through real HTTP (``python -m exchange serve`` on loopback).

``LiveHub`` starts a server on a database of its own (a SQLite file, or a fresh PostgreSQL schema when
EXCHANGE_DATABASE_URL points at PostgreSQL) and hands out tokens. The ``live`` fixture in conftest.py
keeps one per test module, so a module pays the start-up once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from exchange.auth import create_token
from exchange.settings import Settings
from exchange.store.engine import begin_write, make_engine

PG_URL = os.environ.get("EXCHANGE_DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgresql")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A database URL of its own: a SQLite file in ``folder`` or a new PostgreSQL schema (dropped after)."""
    if not ON_POSTGRES:
        yield f"sqlite:///{folder / 'hub.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@dataclass
class LiveHub:
    """A hub server process on loopback; ``url`` is its base URL."""

    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None
    #: more arguments for ``exchange serve``, e.g. ["--workers", "2"]
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> LiveHub:
        environment = {**os.environ, "EXCHANGE_DATABASE_URL": self.database_url, **self.env}
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen([sys.executable, "-m", "exchange", "serve", "--port", str(self.port), *self.args],
                                        env=environment, stdout=out, stderr=out)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.process.returncode} at start-up")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the hub did not answer /health in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def token(self, provider: str | None) -> str:
        """A new token for ``provider`` (a country code) or, with None, for an administrator."""
        engine = make_engine(Settings(database_url=self.database_url))
        try:
            with begin_write(engine) as conn:
                return create_token(conn, provider=provider, admin=provider is None)[1]
        finally:
            engine.dispose()

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=kwargs.pop("timeout", 120), **kwargs)


@contextmanager
def live_hub(folder: Path, **env: str) -> Iterator[LiveHub]:
    """A started hub on a fresh database; stopped and its database dropped afterwards."""
    with fresh_database(folder) as url:
        hub = LiveHub(url, env=env, log=folder / "hub.log")
        hub.start()
        try:
            yield hub
        finally:
            hub.stop()
