"""The event commands as a user runs them (real processes): ``exchange subscribe ...`` and ``exchange events``
against a real hub over HTTP, ``exchange contact set`` on the local database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from exchange.settings import Settings
from exchange.store.engine import make_engine
from exchange.store.tables import provider_contact
from tests.helpers import SS_21, simple_message
from tests.live import live_hub
from tests.receivers import WebhookReceiver, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory):  # noqa: ANN201
    with live_hub(tmp_path_factory.mktemp("cli"), EXCHANGE_WEBHOOK_ALLOW_PRIVATE="true",
                  EXCHANGE_DISPATCH_INTERVAL_S="0.05") as live:
        yield live


def cli(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"EXCHANGE_DATABASE_URL": database_url} if database_url else {})}
    return subprocess.run([sys.executable, "-m", "exchange", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_subscribe_list_deliveries_redeliver_remove(hub):
    receiver = WebhookReceiver().start()
    token = hub.token("KAZ")
    remote = ["--url", hub.url, "--token", token]
    try:
        added = cli("subscribe", "add", receiver.url, "--type", "submission.accepted", *remote)
        assert added.returncode == 0, added.stdout + added.stderr
        made = json.loads(added.stdout)
        assert made["secret"].startswith("whsec_")
        listed = json.loads(cli("subscribe", "list", *remote).stdout)
        assert [s["id"] for s in listed["items"]] == [made["id"]] and "secret" not in listed["items"][0]
        with hub.client(token) as client:
            assert client.post("/data", content=simple_message(), headers={"Content-Type": SS_21}).status_code == 200
        wait_for(lambda: receiver.received)
        log = json.loads(cli("subscribe", "deliveries", made["id"], *remote).stdout)["items"]
        assert log[0]["state"] == "delivered"
        again = cli("subscribe", "redeliver", made["id"], log[0]["event"], *remote)
        assert again.returncode == 0, again.stdout
        wait_for(lambda: len(receiver.received) == 2)
        assert cli("subscribe", "remove", made["id"], *remote).returncode == 0
        assert json.loads(cli("subscribe", "list", *remote).stdout)["items"] == []
        refused = cli("subscribe", "add", receiver.url, "--type", "no.such.type", *remote)
        assert refused.returncode == 1 and "Unknown event types" in refused.stdout
        feed = cli("events", *remote)
        assert feed.returncode == 0
        assert [json.loads(line)["type"] for line in feed.stdout.splitlines()][:1] == ["submission.accepted"]
    finally:
        receiver.stop()


def test_contact_set_on_the_local_database(database_url):
    from exchange.hub import open_hub

    open_hub(Settings(database_url=database_url)).close()
    result = cli("contact", "set", "KAZ", "migration@kaz.example", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert cli("contact", "set", "KAZ", "not-an-address", database_url=database_url).returncode == 2
    engine = make_engine(Settings(database_url=database_url))
    with engine.connect() as conn:
        assert conn.execute(select(provider_contact.c.provider, provider_contact.c.email)).all() == [
            ("KAZ", "migration@kaz.example")]
    engine.dispose()
