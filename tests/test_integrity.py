"""One current version per observation key, whoever pushes and however many push at once (issue #9).

Concurrent pushes go through real HTTP to a real hub process (``live``), on SQLite and PostgreSQL; the
migration test builds a database at the previous revision holding duplicates and lets the hub upgrade it.
"""

from __future__ import annotations

import csv
import gzip
import io
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, Table, func, insert, select, text

from alembic import command
from exchange.body import spool
from exchange.hub import alembic_config, open_hub
from exchange.ingest import Principal
from exchange.settings import Settings
from exchange.store.engine import make_engine
from exchange.store.tables import current_index_name
from tests.conftest import auth
from tests.helpers import CSV_20, SS_21, csv20, csv_row, simple_message
from tests.live import ON_POSTGRES, fresh_database

PARTNERS = ("RUS", "DEU", "POL", "TUR", "USA", "UZB", "KGZ", "CHN")
YEARS = range(2000, 2020)
KEYS = len(PARTNERS) * len(YEARS)


def obs_table() -> Table:
    from exchange.catalog import load_catalog
    from exchange.store.registry import DataTables

    catalog = load_catalog(Settings().structures_dir, [])
    return DataTables().table(catalog.schema_for_ref("UNECE", "MIGR_FLOW"))


def without_id(row: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(row).items() if k != "_id"}


def current_per_key(engine: Engine) -> list[int]:
    """How many current versions each observation key has (tombstones included: they are current too)."""
    table = obs_table()
    keys = [table.c[c.name] for c in table.columns if not c.name.startswith("_") and not c.nullable]
    with engine.connect() as conn:
        return list(conn.execute(select(func.count()).where(table.c._superseded_at.is_(None))
                                 .group_by(*keys)).scalars())


def push_rounds(live: Any, tokens: dict[str, str], rounds: int) -> list[tuple[int, str, int, str]]:
    """Every round, each token pushes the same keys (other values) at the same moment; returns the answers
    (round, token name, status, start of the body)."""
    answers: list[tuple[int, str, int, str]] = []
    barrier = threading.Barrier(len(tokens))

    def push(round_: int, name: str, token: str, base: int) -> None:
        body = simple_message("KAZ", YEARS, PARTNERS, base=base)
        with live.client(token) as client:
            barrier.wait(30)
            response = client.post("/data", content=body, headers={"Content-Type": SS_21})
        answers.append((round_, name, response.status_code, response.text[:300]))

    for round_ in range(rounds):
        threads = [threading.Thread(target=push, args=(round_, name, token, 1000 * round_ + 100 * i))
                   for i, (name, token) in enumerate(tokens.items())]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    return answers


def test_concurrent_pushes_by_admin_and_provider_keep_one_current_version(live):
    """An administrator and two KAZ tokens push the same keys at the same moment, eight rounds: every push is
    applied whole or refused with 409/503 (never 500), and every key has exactly one current version."""
    tokens = {"admin": live.token(None), "KAZ": live.token("KAZ"), "KAZ again": live.token("KAZ")}
    answers = push_rounds(live, tokens, rounds=8)
    assert len(answers) == 8 * len(tokens)
    assert all(status in (200, 409, 503) for _, _, status, _ in answers), answers
    assert all(status == 200 for _, name, status, _ in answers if name == "admin"), answers  # never its scope
    for round_ in range(8):  # the two KAZ tokens share a scope: at most one is refused (409)
        assert any(status == 200 for r, name, status, _ in answers if r == round_ and name.startswith("KAZ"))
    engine = make_engine(Settings(database_url=live.database_url))
    try:
        per_key = current_per_key(engine)
    finally:
        engine.dispose()
    assert len(per_key) == KEYS and set(per_key) == {1}
    served = httpx.get(f"{live.url}/data/dataflow/UNECE/MIGR_FLOW/1.0/*", headers={"Accept": CSV_20}, timeout=60)
    rows = list(csv.DictReader(io.StringIO(served.text)))
    assert len([row for row in rows if row["REF_AREA"] == "KAZ" and int(row["TIME_PERIOD"]) in YEARS]) == KEYS


def test_a_duplicate_current_version_cannot_be_stored(live):
    """The store itself refuses a second current version of a key (the partial unique index)."""
    with live.client(live.token("KAZ")) as client:
        assert client.post("/data", content=simple_message("KAZ", range(2030, 2031)),
                           headers={"Content-Type": SS_21}).status_code == 200
    engine = make_engine(Settings(database_url=live.database_url))
    table = obs_table()
    try:
        with engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.time_period == "2030",
                                                   table.c._superseded_at.is_(None))).mappings().one()
            with pytest.raises(Exception, match="(?i)unique"):
                conn.execute(insert(table).values(without_id(row)))
            conn.rollback()
    finally:
        engine.dispose()


def test_a_unique_violation_answers_409_and_stores_nothing(client, hub, token_for, monkeypatch):
    """Should another writer slip a current version in between (a race the locks should prevent), the push is
    answered 409 with a retry message, never 500, and the store is left as it was."""
    from exchange.store import write

    headers = auth(token_for("KAZ"), SS_21)
    assert client.post("/data", content=simple_message(base=1), headers=headers).status_code == 200
    table = hub.tables.table(hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW"))
    original = write._supersede

    def supersede_then_race(ctx: write.WriteContext, obs: Table, plan: Table) -> tuple[int, int]:
        result = original(ctx, obs, plan)
        raced = ctx.conn.execute(select(obs).where(obs.c._id == select(func.min(plan.c.old_id)).scalar_subquery()))
        row = {**without_id(raced.mappings().one()), "_superseded_at": None, "_superseded_by": None}
        ctx.conn.execute(insert(obs).values({**row, "_submission": "another-push"}))
        return result

    with hub.engine.connect() as conn:
        before = conn.execute(select(table).order_by(table.c._id)).all()
    monkeypatch.setattr(write, "_supersede", supersede_then_race)
    response = client.post("/data", content=simple_message(base=2), headers=headers)
    assert response.status_code == 409, response.text
    assert "Send the same message again" in response.json()["message"]
    with hub.engine.connect() as conn:
        assert conn.execute(select(table).order_by(table.c._id)).all() == before
    monkeypatch.undo()
    again = client.post("/data", content=simple_message(base=2), headers=headers)
    assert again.status_code == 200 and again.json()["datasets"][0]["replaced"] == 5


def test_migration_repairs_duplicates_and_the_hub_upgrades_on_start(settings):
    """A database at revision 0001 holding duplicate current versions (as concurrent pushes left them) is
    repaired when a hub opens it: the newest version of each key stays current, the others are closed."""
    command.upgrade(alembic_config(settings), "0001")
    old = open_hub(settings, migrate=False)  # creates the data tables
    old.push_listeners.clear()  # the hub of revision 0001 raised no events (the event tables come with 0003)
    table = old.tables.table(old.catalog.schema_for_ref("UNECE", "MIGR_FLOW"))
    with old.engine.begin() as conn:
        conn.execute(text(f'DROP INDEX "{current_index_name(table.name)}"'))  # the table as revision 0001 left it
    kaz, admin = Principal(None, "KAZ", False), Principal(None, None, True)
    assert old.ingestor.submit(spool([simple_message(base=1)], 10**8), SS_21, kaz).status == 200
    with old.engine.begin() as conn:  # what two unserialised pushes wrote: two more current versions per key
        current = conn.execute(select(table).where(table.c._superseded_at.is_(None))).mappings().all()
        for submission, value in (("race-1", 50.0), ("race-2", 60.0)):
            conn.execute(insert(table), [{**without_id(row), "_submission": submission, "obs_value": value}
                                         for row in current])
    assert set(current_per_key(old.engine)) == {3}
    old.close()

    hub = open_hub(settings)
    try:
        assert set(current_per_key(hub.engine)) == {1} and len(current_per_key(hub.engine)) == 5
        with hub.engine.connect() as conn:
            values = conn.execute(select(table.c.obs_value, table.c._submission)
                                  .where(table.c._superseded_at.is_(None))).all()
            closed = conn.execute(select(table.c._superseded_by).where(table.c._submission != "race-2")).scalars()
            assert set(values) == {(60.0, "race-2")} and set(closed) == {"race-2"}
        pushed = hub.ingestor.submit(spool([simple_message(base=7)], 10**8), SS_21, admin)
        assert pushed.status == 200 and pushed.body["datasets"][0]["replaced"] == 5
        assert set(current_per_key(hub.engine)) == {1}
        with hub.engine.connect() as conn, pytest.raises(Exception, match="(?i)unique"):
            row = conn.execute(select(table).where(table.c._superseded_at.is_(None))).mappings().first()
            conn.execute(insert(table).values(without_id(row)))
    finally:
        hub.close()


def newline_gzip(megabytes: int) -> bytes:
    """An SDMX-CSV header followed by ``megabytes`` MB of empty lines, gzipped (about 100 KB per 100 MB)."""
    return gzip.compress(csv20([]) + b"\n" * (megabytes * 1024 * 1024), compresslevel=9)


def test_reading_a_large_body_does_not_block_another_countrys_push(live):
    """While a body of many megabytes is being read (gzip of empty lines), another country's small push is
    applied: on SQLite reading happens outside the write lock, on PostgreSQL under other locks."""
    bomb = newline_gzip(32)
    uploaded = threading.Event()
    results: dict[str, httpx.Response] = {}

    def body() -> Iterator[bytes]:
        for start in range(0, len(bomb), 16384):
            yield bomb[start:start + 16384]
        uploaded.set()

    def push_large() -> None:
        with live.client(live.token("KAZ")) as client:
            results["large"] = client.post("/data", content=body(), headers={"Content-Type": CSV_20})

    large = threading.Thread(target=push_large)
    large.start()
    assert uploaded.wait(60)
    with live.client(live.token("UZB")) as client:
        small = client.post("/data", content=csv20([csv_row(REF_AREA="UZB", period="2011")]),
                            headers={"Content-Type": CSV_20})
    still_reading = large.is_alive()
    large.join(600)
    assert small.status_code == 200, small.text
    assert still_reading, "the small push waited for the large one"
    assert results["large"].status_code < 500


@pytest.mark.skipif(not ON_POSTGRES, reason="advisory locks are PostgreSQL's")
def test_hubs_in_two_schemas_of_one_database_never_wait_for_each_other(hub, tmp_path, monkeypatch):
    """Lock keys include the schema: while a KAZ push holds its locks in one schema, a KAZ push to a hub on
    another schema of the same database is applied, not refused as if it were the same scope."""
    from exchange import locks

    started, release = threading.Event(), threading.Event()
    original = locks.ScopeLocks.begin_writing

    def held(self: locks.ScopeLocks, tables: Any) -> None:
        original(self, tables)
        if threading.current_thread().name == "first":
            started.set()
            release.wait(60)

    monkeypatch.setattr(locks.ScopeLocks, "begin_writing", held)
    kaz = Principal(None, "KAZ", False)
    results = {}
    first = threading.Thread(name="first", target=lambda: results.update(
        first=hub.ingestor.submit(spool([simple_message()], 10**8), SS_21, kaz)))
    with fresh_database(tmp_path) as other_url:
        other = open_hub(Settings(database_url=other_url))
        try:
            first.start()
            assert started.wait(60)
            second = other.ingestor.submit(spool([simple_message()], 10**8), SS_21, kaz)
            release.set()
            first.join(60)
        finally:
            release.set()
            other.close()
    assert second.status == 200, second.body["message"]
    assert results["first"].status == 200
