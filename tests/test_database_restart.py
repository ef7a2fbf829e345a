"""Issue #15: the hub outlives its PostgreSQL connections being cut (as in a server restart) without a restart.

The test cuts them with pg_terminate_backend rather than restarting the cluster, which CI shares with other
tests: to the hub both look the same (every pooled connection dies at once).
"""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest
from sqlalchemy import Connection, create_engine, text

from exchange.locks import ScopeLocks
from tests.helpers import SS_21, simple_message
from tests.live import ON_POSTGRES, LiveHub, fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only: SQLite has no server")]

READ = "/data/UNECE,MIGR_FLOW,1.0/A.KAZ.EMI..RUS....."
CSV = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}


@pytest.fixture(scope="module")
def restartable(tmp_path_factory):
    """A hub whose PostgreSQL sessions carry an application name of their own, and an admin engine."""
    folder = tmp_path_factory.mktemp("restart")
    name = f"exchange-test-{uuid.uuid4().hex[:8]}"
    with fresh_database(folder) as url:
        hub = LiveHub(url, env={"PGAPPNAME": name}, log=folder / "hub.log").start()
        admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            yield hub, name, admin
        finally:
            hub.stop()
            admin.dispose()


def terminate(conn: Connection, application: str) -> int:
    return len(conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :a"),
                            {"a": application}).all())


def stored(conn: Connection) -> int:
    table = conn.execute(text("SELECT table_name FROM dsd_table WHERE dsd = 'UNECE:MIGR_FLOW(1.0)'")).scalar_one()
    return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


def test_after_every_connection_is_cut_the_next_requests_succeed(restartable):
    hub, name, admin = restartable
    token = hub.token("KAZ")
    with hub.client(token) as client:
        assert client.post("/data", content=simple_message(), headers={"Content-Type": SS_21}).status_code == 200
        assert client.get(READ, headers=CSV).status_code == 200
    with admin.connect() as conn:
        assert terminate(conn, name) >= 1  # the pool's idle connections, now dead
    with hub.client(token) as client:
        assert client.get("/ready").status_code == 200
        read = client.get(READ, headers=CSV)
        again = client.post("/data", content=simple_message(base=500), headers={"Content-Type": SS_21})
    assert read.status_code == 200 and len(read.text.strip().splitlines()) == 6, read.text
    assert again.status_code == 200, again.text


def test_a_push_caught_by_the_cut_gets_503_with_retry_after_and_stores_nothing(restartable):
    hub, name, admin = restartable
    token = hub.token("KAZ")
    answers: list[httpx.Response] = []
    with admin.connect() as holder, admin.connect() as watcher:
        before = stored(watcher)
        table = holder.execute(text("SELECT table_name FROM dsd_table WHERE dsd = 'UNECE:MIGR_FLOW(1.0)'")).scalar_one()
        ScopeLocks(holder).begin_writing([table])  # the push will wait here for the data table's write lock
        with hub.client(token) as client:
            pushing = threading.Thread(target=lambda: answers.append(client.post(
                "/data", content=simple_message(partners=("RUS", "CHN"), base=900), headers={"Content-Type": SS_21})))
            pushing.start()
            _wait_for_advisory_wait(watcher, name)
            terminate(watcher, name)
            pushing.join(60)
        holder.rollback()
        after = stored(watcher)
    assert answers and answers[0].status_code == 503, answers and answers[0].text
    assert int(answers[0].headers["retry-after"]) > 0 and "Try again" in answers[0].json()["message"]
    assert after == before  # nothing half-written
    with hub.client(token) as client:
        retried = client.post("/data", content=simple_message(partners=("RUS", "CHN"), base=900),
                              headers={"Content-Type": SS_21})
    assert retried.status_code == 200, retried.text


def _wait_for_advisory_wait(conn: Connection, application: str) -> None:
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a AND wait_event = 'advisory'")
    for _ in range(600):
        if conn.execute(query, {"a": application}).scalar_one():
            return
        conn.rollback()
        time.sleep(0.1)
    raise AssertionError("the push never reached the write lock")
