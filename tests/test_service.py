"""Issue #15: /health and /ready, and several hub processes on one database seeing the same structures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from exchange.hub import Hub
from exchange.settings import Settings
from exchange.store.engine import make_engine
from tests.conftest import auth, specimen
from tests.live import LiveHub, fresh_database

EXR_DATA = "data-structurespecifictimeseries-ECB_EXR_NG.xml"
EXR_READ = "/structure/datastructure/ECB/ECB_EXR_NG/1.0"


def test_ready_says_database_schema_and_structures_are_fine(client, hub):
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready" and response.json()["dataflows"] == len(hub.catalog.dataflows)


def test_a_database_behind_the_code_is_not_ready_and_says_how_to_fix_it(client, hub: Hub):
    with hub.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = client.get("/ready")
    assert response.status_code == 503 and response.headers["retry-after"]
    assert "exchange db upgrade" in response.json()["message"] and "0001" in response.json()["message"]
    assert client.get("/health").status_code == 200  # alive all the same


def test_without_a_database_health_is_alive_and_ready_is_503(client, hub: Hub, tmp_path):
    working = hub.engine
    hub.engine = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    try:
        health = client.get("/health")
        ready = client.get("/ready")
    finally:
        hub.engine.dispose()
        hub.engine = working
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["dataflows"]
    assert ready.status_code == 503 and "database cannot be used" in ready.json()["message"], ready.text
    assert ready.headers["retry-after"]


@pytest.fixture(scope="module")
def two_hubs(tmp_path_factory):
    """Two real hub processes on one database (one SQLite file, or one PostgreSQL schema)."""
    folder = tmp_path_factory.mktemp("two")
    with fresh_database(folder) as url:
        first = LiveHub(url, log=folder / "a.log").start()
        second = LiveHub(url, log=folder / "b.log").start()
        try:
            yield first, second
        finally:
            first.stop()
            second.stop()


@pytest.mark.slow
def test_a_structure_registered_through_one_process_is_used_by_another(two_hubs):
    first, second = two_hubs
    admin = first.token(None)
    with second.client(admin) as b:
        assert b.post("/data", content=specimen(EXR_DATA), headers=auth(admin)).status_code == 404  # not known yet
        before = b.get("/ready").json()["structures_generation"]
    with first.client(admin) as a:
        assert a.post("/structure", content=specimen("structure-ECB_EXR_NG-full.xml"),
                      headers=auth(admin)).status_code == 201
    with second.client(admin) as b:
        pushed = b.post("/data", content=specimen(EXR_DATA), headers=auth(admin))
        assert pushed.status_code == 200, pushed.text
        read = b.get(EXR_READ)
        report = b.get(f"/submissions/{pushed.json()['submission']}")
        assert b.get("/ready").json()["structures_generation"] != before
    assert read.status_code == 200 and "ECB_EXR_NG" in read.text, read.text
    assert report.status_code == 200 and report.json()["status"] == "accepted", report.text
    engine = make_engine(Settings(database_url=first.database_url))
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM " + table_name_of(conn, "ECB:ECB_EXR_NG(1.0)"))).scalar_one()
    finally:
        engine.dispose()
    assert stored == pushed.json()["datasets"][0]["observations"] > 0


def table_name_of(conn, dsd: str) -> str:
    return conn.execute(text("SELECT table_name FROM dsd_table WHERE dsd = :d"), {"d": dsd}).scalar_one()


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.slow
def test_serve_with_two_workers_starts_two_processes_that_agree(tmp_path):
    with fresh_database(tmp_path) as url:
        hub = LiveHub(url, log=tmp_path / "hub.log", args=["--workers", "2"]).start(timeout=240)
        try:
            assert hub.process is not None
            workers = [p for p in _children(hub.process.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
            admin = hub.token(None)
            with hub.client(admin) as client:
                assert client.post("/structure", content=specimen("structure-ECB_EXR_NG-full.xml"),
                                   headers=auth(admin)).status_code == 201
            answers = []
            for _ in range(10):  # a new connection each time: either worker may take it
                with hub.client(admin) as client:
                    answers.append(client.get(EXR_READ).status_code)
            with hub.client(admin) as client:
                pushed = client.post("/data", content=specimen(EXR_DATA), headers=auth(admin))
        finally:
            hub.stop()
    assert len(workers) == 2, workers
    assert answers == [200] * 10 and pushed.status_code == 200, pushed.text


def test_when_every_pooled_connection_stays_busy_requests_get_503_not_500(client, hub: Hub, settings):
    working = hub.engine
    url = settings.database_url.replace("postgresql://", "postgresql+psycopg://")
    hub.engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        with hub.engine.connect():  # the only connection, held
            busy = client.get("/data/MIGR_FLOW", headers={"Accept": "application/json"})
        after = client.get("/ready")
    finally:
        hub.engine.dispose()
        hub.engine = working
    assert busy.status_code == 503 and busy.headers["retry-after"], busy.text
    assert "database connections are in use" in busy.text
    assert after.status_code == 200
