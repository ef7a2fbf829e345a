"""Event delivery through real hub processes (tests/live.py): a hub killed with SIGKILL after the commit delivers
after restart, two hub processes on one PostgreSQL deliver each event once per subscriber, and a receiver that
was down gets the event when it comes back (issue #10, "Done means")."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from exchange.events import emit
from exchange.settings import Settings
from exchange.store.engine import begin_write, make_engine
from tests.helpers import SS_21, simple_message
from tests.live import ON_POSTGRES, LiveHub, fresh_database
from tests.receivers import WebhookReceiver, wait_for

pytestmark = pytest.mark.slow
FAST = {"EXCHANGE_WEBHOOK_ALLOW_PRIVATE": "true", "EXCHANGE_DISPATCH_INTERVAL_S": "0.05",
        "EXCHANGE_WEBHOOK_RETRY_SCHEDULE": "[0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]",
        "EXCHANGE_WEBHOOK_DISABLE_AFTER": "1000"}


@pytest.fixture
def receiver():  # noqa: ANN201
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


def subscribe(hub: LiveHub, token: str, url: str, types=("submission.accepted",)) -> dict:
    with hub.client(token) as client:
        answer = client.post("/subscriptions", json={"url": url, "event_types": list(types)})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_hub_killed_after_the_commit_delivers_after_restart(tmp_path, receiver):
    with fresh_database(tmp_path) as url:
        first = LiveHub(url, env={**FAST, "EXCHANGE_DISPATCHER_ENABLED": "false"}, log=tmp_path / "first.log").start()
        try:
            kaz = first.token("KAZ")
            made = subscribe(first, kaz, receiver.url)
            with first.client(kaz) as client:
                pushed = client.post("/data", content=simple_message(), headers={"Content-Type": SS_21})
            assert pushed.status_code == 200  # committed: the event and its delivery row are stored
            first.process.kill()  # SIGKILL: no shutdown, no chance to deliver
            first.process.wait()
        finally:
            first.stop()
        assert receiver.received == []
        second = LiveHub(url, env=FAST, log=tmp_path / "second.log").start()
        try:
            wait_for(lambda: receiver.received)
            event = Webhook(made["secret"]).verify(receiver.received[0].body, receiver.received[0].headers)
            assert event["type"] == "submission.accepted"
            assert event["data"]["submission"] == pushed.json()["submission"]
        finally:
            second.stop()


def test_a_receiver_that_was_down_gets_the_event_when_it_is_back(tmp_path):
    down = WebhookReceiver()  # its port is free: connections are refused until it starts
    with fresh_database(tmp_path) as url:
        hub = LiveHub(url, env=FAST, log=tmp_path / "hub.log").start()
        try:
            kaz = hub.token("KAZ")
            made = subscribe(hub, kaz, down.url)
            with hub.client(kaz) as client:
                assert client.post("/data", content=simple_message(), headers={"Content-Type": SS_21}).status_code == 200

                def log():
                    return client.get(f"/subscriptions/{made['id']}/deliveries").json()["items"][0]

                wait_for(lambda: log()["attempts"] >= 2)
                assert log()["state"] == "pending" and "ConnectError" in log()["last_error"]
                down.start()
                wait_for(lambda: log()["state"] == "delivered")
            assert len(down.received) == 1
            assert Webhook(made["secret"]).verify(down.received[0].body, down.received[0].headers)
        finally:
            hub.stop()
            down.stop()


@pytest.mark.skipif(not ON_POSTGRES, reason="two hub processes share one store only on PostgreSQL (SQLite: one "
                                            "writer, one hub process)")
def test_two_hub_processes_deliver_each_event_once_per_subscriber(tmp_path):
    receivers = [WebhookReceiver().start(), WebhookReceiver().start()]
    count = 60
    with fresh_database(tmp_path) as url:
        hubs = [LiveHub(url, env=FAST, log=tmp_path / f"hub{i}.log").start() for i in range(2)]
        try:
            admin = hubs[0].token(None)
            for receiver in receivers:
                subscribe(hubs[0], admin, receiver.url, ["case.commented"])
            engine = make_engine(Settings(database_url=url))
            try:
                for i in range(count):
                    with begin_write(engine) as conn:
                        emit(conn, "case.commented", ["KAZ", "RUS"], {"n": i})
            finally:
                engine.dispose()
            for receiver in receivers:
                wait_for(lambda r=receiver: len(r.received) >= count)
            for hub in hubs:  # both processes stay up and keep looking; nothing more may come
                with hub.client(admin) as client:
                    assert client.get("/health").status_code == 200
            for receiver in receivers:
                ids = [r.headers["webhook-id"] for r in receiver.received]
                assert len(ids) == count and len(set(ids)) == count
        finally:
            for hub in hubs:
                hub.stop()
            for receiver in receivers:
                receiver.stop()
