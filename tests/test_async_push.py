"""Long pushes report progress (issue #15): ``Prefer: respond-async`` on POST /data answers 202 at once, the
report shows the phase and counters, then the final answer, which is the synchronous one; a hub killed mid-way
leaves the push "interrupted" and the store unchanged. Real hub processes over HTTP, both stores."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, select

from bench.gen import write
from exchange.api.submissions import respond_async
from exchange.locks import ScopeLocks
from exchange.progress import STALE_AFTER_S, owner_gone, process_owner
from exchange.settings import Settings
from exchange.store.engine import make_engine
from exchange.store.tables import submission_progress
from tests.helpers import SS_21, simple_message
from tests.live import LiveHub, fresh_database

pytestmark = pytest.mark.slow
ASYNC = {"Prefer": "respond-async", "Content-Type": SS_21}
MIGR_FLOW_TABLE = "obs_unece_migr_flow_1_0"
VOLATILE = ("submission", "received_at", "sha256", "complete_report", "report")


def poll(client: httpx.Client, report: str, seen: list[dict[str, Any]] | None = None,
         until: Any = lambda answer: answer["status"] != "running") -> dict[str, Any]:
    """GET the report until ``until`` holds (every answer is kept in ``seen``)."""
    while True:
        response = client.get(report)
        assert response.status_code == 200, response.text
        answer = response.json()
        if seen is not None:
            seen.append(answer)
        if until(answer):
            return answer
        time.sleep(0.02)


def normalised(answer: Any) -> Any:
    """The answer without what differs between two pushes of the same shape (ids, times, checksums)."""
    if isinstance(answer, dict):
        return {k: normalised(v) for k, v in answer.items() if k not in VOLATILE}
    if isinstance(answer, list):
        return [normalised(v) for v in answer]
    return answer


@contextmanager
def write_lock_held(database_url: str) -> Iterator[Connection]:
    """Hold the MIGR_FLOW table's write lock (exchange.locks) as another push would, so a push waits in "writing"."""
    engine = make_engine(Settings(database_url=database_url))
    conn = engine.connect()
    try:
        conn.begin()
        ScopeLocks(conn).begin_writing([MIGR_FLOW_TABLE])
        yield conn
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def test_prefer_header_parsing():
    assert respond_async(["respond-async"]) and respond_async(["wait=10, Respond-Async"])
    assert respond_async(["handling=lenient", "respond-async; x=1"])
    assert not respond_async([]) and not respond_async(["return=minimal"]) and not respond_async(["respond-asyncx"])


def test_async_push_answers_202_then_the_synchronous_answer(live):
    kaz, uzb, admin = live.token("KAZ"), live.token("UZB"), live.token(None)
    with live.client(kaz) as client:
        sync = client.post("/data", content=simple_message(years=range(2000, 2005)), headers={"Content-Type": SS_21})
        assert sync.status_code == 200 and "preference-applied" not in sync.headers
        started = client.post("/data", content=simple_message(years=range(2010, 2015)), headers=ASYNC)
        assert started.status_code == 202, started.text
        report = started.headers["location"]
        assert started.headers["preference-applied"] == "respond-async"
        assert report == f"/submissions/{started.json()['submission']}" == started.json()["report"]
        seen: list[dict[str, Any]] = []
        final = poll(client, report, seen)
        sync_report = client.get(f"/submissions/{sync.json()['submission']}").json()
    for answer in seen[:-1]:
        assert answer["phase"] in ("received", "validating", "writing") and answer["code"] == 202
    assert final["status"] == "accepted" and final["code"] == 200 and final["observations"] == 5
    assert normalised(final) == normalised(sync_report)
    with live.client(uzb) as other:  # another data provider cannot tell it exists
        assert other.get(report).status_code == 404
    with live.client(admin) as client:
        assert client.get(report).json()["status"] == "accepted"
        data = client.get("/data/UNECE,MIGR_FLOW,1.0/all", params={"format": "csv"})
    assert data.status_code == 200 and data.text.count("\n") == 1 + 10


def test_async_rejection_is_the_synchronous_rejection(live):
    uzb = live.token("UZB")
    with live.client(uzb) as client:  # KAZ data pushed with UZB's token: PROVIDER_NOT_ALLOWED
        sync = client.post("/data", content=simple_message(years=range(2000, 2005)), headers={"Content-Type": SS_21})
        started = client.post("/data", content=simple_message(years=range(2010, 2015)), headers=ASYNC)
        assert started.status_code == 202
        final = poll(client, started.headers["location"])
        sync_report = client.get(f"/submissions/{sync.json()['submission']}").json()
    assert sync.status_code == final["code"] and final["status"] == "rejected"
    assert final["issues"]["by_code"] == sync_report["issues"]["by_code"]  # the issues differ only by the years
    assert set(final) == set(sync_report) and final["issue_page"]["total"] == sync_report["issue_page"]["total"]


def test_malformed_or_unauthorised_async_pushes_are_refused_at_once(live):
    with live.client("not-a-token") as client:
        assert client.post("/data", content=simple_message(), headers=ASYNC).status_code == 401
    with live.client(live.token("KAZ")) as client:
        assert client.get("/submissions/00000000-0000-0000-0000-000000000000").status_code == 404
        started = client.post("/data", content=b"<not xml", headers=ASYNC)
        assert started.status_code == 202
        final = poll(client, started.headers["location"])
    assert final["status"] == "rejected" and final["code"] == 400


def _push_waiting_for_the_write_lock(hub: LiveHub, tmp_path: Path, observations: int) -> tuple[str, str, Any]:
    """Start a push while the test holds the write lock; return (token, report, the held lock's context)."""
    message = write(tmp_path / "big.xml", observations)
    token = hub.token("KAZ")
    lock = write_lock_held(hub.database_url)
    on_postgres = hub.database_url.startswith("postgresql")
    if on_postgres:  # an advisory lock: taken first, it cannot block the 202
        lock.__enter__()
    with hub.client(token) as client:
        started = client.post("/data", content=message.read_bytes(), headers=ASYNC)
        assert started.status_code == 202, started.text
        if not on_postgres:  # SQLite: the database's write lock, taken while the hub reads the message
            lock.__enter__()
    return token, started.headers["location"], lock


def test_progress_counts_what_was_read_and_validated_while_writing_waits(tmp_path):
    observations = 20_000
    with fresh_database(tmp_path) as url:
        hub = LiveHub(url, env={"EXCHANGE_PROGRESS_INTERVAL_S": "0.05"}, log=tmp_path / "hub.log").start()
        try:
            token, report, lock = _push_waiting_for_the_write_lock(hub, tmp_path, observations)
            with hub.client(token) as client:
                seen: list[dict[str, Any]] = []
                waiting = poll(client, report, seen, until=lambda a: a.get("phase") == "writing")
                lock.__exit__(None, None, None)
                final = poll(client, report, seen)
        finally:
            hub.stop()
    assert waiting["status"] == "running" and waiting["progress"] == {
        "observations_read": observations, "observations_validated": observations, "observations_written": 0,
        "bytes_read": waiting["progress"]["bytes_total"], "bytes_total": waiting["progress"]["bytes_total"]}
    reads = [a["progress"]["observations_read"] for a in seen if a["status"] == "running"]
    assert reads == sorted(reads)  # counters never go back
    assert final["status"] == "accepted" and final["datasets"][0]["inserted"] == observations


def test_a_hub_killed_mid_push_shows_it_interrupted_and_stored_nothing(tmp_path):
    with fresh_database(tmp_path) as url:
        hub = LiveHub(url, log=tmp_path / "hub.log").start()
        try:
            token, report, lock = _push_waiting_for_the_write_lock(hub, tmp_path, 5_000)
            with hub.client(token) as client:
                poll(client, report, until=lambda a: a.get("phase") == "writing")
            assert hub.process is not None
            hub.process.kill()  # SIGKILL: no shutdown code runs
            hub.process.wait()
        finally:
            lock.__exit__(None, None, None)
        restarted = LiveHub(url, log=tmp_path / "hub.log").start()
        try:
            with restarted.client(token) as client:
                answer = client.get(report).json()
                data = client.get("/data/UNECE,MIGR_FLOW,1.0/all", params={"format": "csv"})
                listed = client.get("/submissions").json()
            with restarted.client(restarted.token(None)) as admin:
                assert admin.get(report).json()["phase"] == "interrupted"
            engine = make_engine(Settings(database_url=url))  # the restart itself recorded it (sweep_interrupted)
            with engine.connect() as conn:
                phase = conn.execute(select(submission_progress.c.phase)).scalar_one()
            engine.dispose()
        finally:
            restarted.stop()
    assert answer["status"] == "failed" and answer["phase"] == "interrupted" and "nothing" in answer["message"]
    assert data.status_code == 404 and listed["total"] == 0  # the store is as it was
    assert phase == "interrupted"


def test_which_pushes_count_as_interrupted():
    now = datetime.now(UTC)
    host = socket.gethostname()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert owner_gone(f"{host}|{dead.pid}|x", now, now)  # this host, the process is gone
    assert owner_gone(f"{host}|{os.getpid()}|another-instance", now, now)  # our pid, an earlier process
    assert not owner_gone(process_owner(), now - timedelta(days=1), now)  # ourselves, however old the heartbeat
    assert not owner_gone(f"{host}|{os.getppid()}|x", now - timedelta(days=1), now)  # a live process of this host
    assert not owner_gone("elsewhere|1|x", now - timedelta(seconds=5), now)  # another host: by its heartbeat
    assert owner_gone("elsewhere|1|x", now - timedelta(seconds=STALE_AFTER_S + 1), now)
