"""Faults: a server killed mid-push leaves the store as it was; concurrent pushes never interleave."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from exchange.body import spool
from exchange.hub import open_hub
from exchange.ingest import Principal
from tests.conftest import auth
from tests.helpers import SS_21, simple_message

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.gen import write  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(database_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "EXCHANGE_DATABASE_URL": database_url}
    process = subprocess.Popen([sys.executable, "-m", "exchange", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def counts(hub) -> tuple[int, int]:
    from exchange.store.tables import submission

    table = hub.tables.table(hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW"))
    with hub.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(table)).scalar_one(),
                conn.execute(select(func.count()).select_from(submission)).scalar_one())


@pytest.mark.slow
def test_kill_minus_nine_mid_push_leaves_store_unchanged(settings, hub, token_for, tmp_path):
    token = token_for("KAZ")
    assert hub.ingestor.submit(spool([simple_message()], 10**8), SS_21, Principal(None, "KAZ", False)).status == 200
    before = counts(hub)
    big = write(tmp_path / "big.xml", 300_000)
    port = free_port()
    server = start_server(settings.database_url, port)
    errors: list[Exception] = []

    def push() -> None:
        try:
            with big.open("rb") as handle:
                httpx.post(f"http://127.0.0.1:{port}/data", content=handle.read(), headers=auth(token, SS_21),
                           timeout=120)
        except httpx.HTTPError as exc:
            errors.append(exc)

    pusher = threading.Thread(target=push)
    pusher.start()
    time.sleep(4)  # the upload is done and the ingest transaction is running
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    pusher.join()
    assert errors, "the push should have been cut off by the kill"
    again = open_hub(settings)
    try:
        assert counts(again) == before
        server = start_server(settings.database_url, port)  # the hub starts again on the same store
        deadline = time.time() + 30
        while True:  # PostgreSQL: the killed push's scope lock lasts until its backend sees the client gone
            response = httpx.post(f"http://127.0.0.1:{port}/data", content=simple_message(base=7),
                                  headers=auth(token, SS_21), timeout=60)
            if response.status_code != 409 or time.time() > deadline:
                break
            time.sleep(0.5)
        assert response.status_code == 200 and response.json()["datasets"][0]["replaced"] == 5
    finally:
        server.kill()
        server.wait()
        again.close()


def test_same_scope_push_is_409_or_queued_while_another_runs(hub, monkeypatch):
    """While a push for (MIGR_FLOW, KAZ) is being read, a second one for the same scope is refused with 409 on
    PostgreSQL (advisory lock). On SQLite reading takes no lock, so the second is applied at once and the first
    then applies on top of it (single writer); never both at once."""
    from exchange import locks

    kaz = Principal(None, "KAZ", False)
    started, release = threading.Event(), threading.Event()
    original = locks.ScopeLocks.acquire

    def slow_acquire(self, scope):
        original(self, scope)
        if threading.current_thread().name == "first":
            started.set()
            release.wait(3)

    monkeypatch.setattr(locks.ScopeLocks, "acquire", slow_acquire)
    results = {}
    first = threading.Thread(name="first", target=lambda: results.update(
        first=hub.ingestor.submit(spool([simple_message()], 10**8), SS_21, kaz)))
    first.start()
    assert started.wait(10)
    second = hub.ingestor.submit(spool([simple_message(base=5)], 10**8), SS_21, kaz)
    first_done_before_second = not first.is_alive()
    release.set()
    first.join()
    assert results["first"].status == 200
    if hub.engine.dialect.name == "postgresql":
        assert second.status == 409 and "already being processed" in second.body["message"]
        assert counts(hub)[0] == 5
    else:
        assert not first_done_before_second and second.status == 200
        assert second.body["datasets"][0]["inserted"] == 5 and results["first"].body["datasets"][0]["replaced"] == 5


def test_concurrent_pushes_never_interleave(hub):
    """Many providers pushing at once: every message is applied whole, one after another."""
    reporters = ["KAZ", "UZB", "KGZ", "TJK", "ARM", "AZE"]
    outcomes = {}

    def push(country: str) -> None:
        message = simple_message(country, years=range(1990, 2020), partners=("RUS", "DEU", "POL"))
        outcomes[country] = hub.ingestor.submit(spool([message], 10**8), SS_21, Principal(None, country, False))

    threads = [threading.Thread(target=push, args=(c,)) for c in reporters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {c: o.status for c, o in outcomes.items()} == dict.fromkeys(reporters, 200)
    table = hub.tables.table(hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW"))
    with hub.engine.connect() as conn:
        ids = conn.execute(select(table.c._submission, func.min(table.c._id), func.max(table.c._id), func.count())
                           .group_by(table.c._submission)).all()
    assert len(ids) == len(reporters) and all(n == 90 for _, _, _, n in ids)
    if hub.engine.dialect.name == "sqlite":  # one writer: each message's rows are one contiguous block
        spans = sorted((lo, hi) for _, lo, hi, _ in ids)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False)), "rows of two pushes interleaved"


@pytest.mark.slow
def test_cli_push_and_remote_demo_against_a_running_hub(settings, hub, token_for, admin_token, tmp_path):
    """`exchange push` and `exchange demo --url` talk to a real server process over HTTP."""
    port = free_port()
    server = start_server(settings.database_url, port)
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "EXCHANGE_DATABASE_URL": settings.database_url}
    try:
        message = tmp_path / "kaz.xml"
        message.write_bytes(simple_message())
        push = subprocess.run([sys.executable, "-m", "exchange", "push", str(message), "--url", url, "--token",
                               token_for("KAZ")], env=env, capture_output=True, text=True, timeout=120)
        assert push.returncode == 0 and "HTTP 200: accepted: 5 observations" in push.stdout, push.stdout + push.stderr
        assert "MB" in push.stderr and "/submissions/" in push.stdout  # progress bar, then the report link
        refused = subprocess.run([sys.executable, "-m", "exchange", "push", str(message), "--url", url, "--token",
                                  token_for("UZB")], env=env, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1 and "PROVIDER_NOT_ALLOWED" in refused.stdout
        demo = subprocess.run([sys.executable, "-m", "exchange", "demo", "--url", url, "--token", admin_token],
                              env=env, capture_output=True, text=True, timeout=300)
        assert demo.returncode == 0 and demo.stdout.count("HTTP 200") == 16, demo.stdout + demo.stderr
    finally:
        server.kill()
        server.wait()
    assert counts(hub)[0] == 5 + 7144
