"""Fixtures: every test gets its own database (a SQLite file, or a fresh PostgreSQL schema when
EXCHANGE_DATABASE_URL points at PostgreSQL), its own hub and its own app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from exchange.app import create_app
from exchange.auth import create_token
from exchange.hub import Hub, open_hub
from exchange.settings import Settings

SPECIMENS = Path(__file__).parent / "specimens"
PG_URL = os.environ.get("EXCHANGE_DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgresql")


def pytest_report_header() -> str:
    return f"exchange store under test: {'PostgreSQL ' + PG_URL if ON_POSTGRES else 'SQLite (temporary files)'}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """With EXCHANGE_REQUIRE_POSTGRES=1 (CI's second pass) an unreachable PostgreSQL fails the run, never skips."""
    if os.environ.get("EXCHANGE_REQUIRE_POSTGRES") != "1":
        return
    if not ON_POSTGRES:
        raise pytest.UsageError("EXCHANGE_REQUIRE_POSTGRES=1 but EXCHANGE_DATABASE_URL is not a PostgreSQL URL")
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'hub.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def hub(settings: Settings) -> Iterator[Hub]:
    hub = open_hub(settings)
    yield hub
    hub.close()


@pytest.fixture
def client(settings: Settings, hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(settings, hub)) as test_client:
        yield test_client


def _token(hub: Hub, provider: str | None) -> str:
    with hub.engine.execution_options(write=True).begin() as conn:
        return create_token(conn, provider=provider, admin=provider is None)[1]


@pytest.fixture
def admin_token(hub: Hub) -> str:
    return _token(hub, None)


@pytest.fixture
def token_for(hub: Hub):  # noqa: ANN201 - a factory
    return lambda provider: _token(hub, provider)


def auth(token: str, content_type: str | None = "application/xml") -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def specimen(name: str) -> bytes:
    return (SPECIMENS / name).read_bytes()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - yields tests.live.LiveHub
    """One real hub process per test module, on a database of its own, over real HTTP (tests/live.py)."""
    from tests.live import live_hub

    with live_hub(tmp_path_factory.mktemp("live")) as hub:
        yield hub
