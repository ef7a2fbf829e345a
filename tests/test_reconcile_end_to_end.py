"""Issue #10, "Done means": the whole reconciliation story through a real hub process over HTTP, on the store
under test (SQLite, or PostgreSQL in CI's second pass).

KAZ reports emigration to RUS, RUS a much larger immigration from KAZ: a case opens; both partners' webhook
receivers (real HTTP servers) get signed events they verify with the independent ``standardwebhooks``
package; RUS explains with a reason code; KAZ revises; the case resolves itself naming KAZ's revising
submission; the feed tells the whole story in commit order; and e-mail reached both contact addresses
(a real SMTP server on loopback).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.helpers import SS_21, ss_message
from tests.live import LiveHub, live_hub
from tests.receivers import SmtpSink, WebhookReceiver, wait_for
from tests.test_reconcile import emigration, immigration

CASE_STORY = ["case.opened", "case.acknowledged", "case.explained", "case.revised", "case.resolved"]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def receivers() -> Iterator[dict[str, WebhookReceiver]]:
    hooks = {country: WebhookReceiver().start() for country in ("KAZ", "RUS")}
    yield hooks
    for hook in hooks.values():
        hook.stop()


@pytest.fixture
def hub(tmp_path: Path, smtp: SmtpSink) -> Iterator[LiveHub]:
    with live_hub(tmp_path, EXCHANGE_WEBHOOK_ALLOW_PRIVATE="true", EXCHANGE_DISPATCH_INTERVAL_S="0.1",
                  EXCHANGE_SMTP_HOST="127.0.0.1", EXCHANGE_SMTP_PORT=str(smtp.port),
                  EXCHANGE_SMTP_FROM="hub@exchange.test", EXCHANGE_PUBLIC_URL="https://hub.example") as live:
        yield live


def push(hub: LiveHub, token: str, series: Any) -> str:
    with hub.client(token) as client:
        answer = client.post("/data", content=ss_message([series]), headers={"Content-Type": SS_21})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["submission"])


def act(hub: LiveHub, token: str, case_id: int, action: str, **body: Any) -> dict[str, Any]:
    with hub.client(token) as client:
        answer = client.post(f"/reconciliations/{case_id}/{action}", json=body or None)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def case_events(receiver: WebhookReceiver, secret: str) -> list[dict[str, Any]]:
    """The case events the receiver got, each verified as a Standard Webhooks receiver would (raises if forged).

    Delivery is at least once and not ordered across events: duplicates (same ``webhook-id``) count once, and
    events come in the order they happened (their timestamps).
    """
    unique = {r.headers["webhook-id"]: Webhook(secret).verify(r.body, r.headers) for r in list(receiver.received)}
    return sorted((v for v in unique.values() if v["type"].startswith("case.")), key=lambda v: v["timestamp"])


def all_case_events(receiver: WebhookReceiver, secret: str) -> list[dict[str, Any]] | None:
    got = case_events(receiver, secret)
    return got if len(got) == len(CASE_STORY) else None


def feed(hub: LiveHub, token: str) -> list[dict[str, Any]]:
    """The whole feed the token may read, page after page in commit order."""
    events: list[dict[str, Any]] = []
    after = None
    with hub.client(token) as client:
        while True:
            page = client.get("/events", params={"limit": 2, **({"after": after} if after else {})}).json()
            events += page["events"]
            if not page["events"]:
                return events
            after = page["next"]


def test_a_disagreement_is_opened_explained_revised_and_resolved_with_everyone_told(hub, receivers, smtp):
    kaz, rus, admin = hub.token("KAZ"), hub.token("RUS"), hub.token(None)
    secrets = {}
    with hub.client(admin) as client:
        for country in ("KAZ", "RUS"):
            assert client.put(f"/providers/{country}/contact",
                              json={"email": f"migration@{country.lower()}.example"}).status_code == 200
    for country, token in (("KAZ", kaz), ("RUS", rus)):
        with hub.client(token) as client:
            answer = client.post("/subscriptions", json={"url": receivers[country].url, "event_types": CASE_STORY})
        assert answer.status_code == 201, answer.text
        secrets[country] = answer.json()["secret"]

    push(hub, kaz, emigration("KAZ", "RUS", {"2019": 100}))
    opening = push(hub, rus, immigration("RUS", "KAZ", {"2019": 1000}))
    with hub.client(kaz) as client:
        [case] = client.get("/reconciliations").json()["items"]
    assert (case["origin"], case["destination"], case["state"], case["opened_by_submission"]) == (
        "KAZ", "RUS", "open", opening)

    # both partners' receivers get the opening, signed; the payload links the case and both sides' data
    for country in ("KAZ", "RUS"):
        [opened] = wait_for(lambda c=country: case_events(receivers[c], secrets[c]), timeout=120)[:1]
        assert opened["type"] == "case.opened" and opened["data"]["case"] == case["id"]
        assert opened["data"]["periods"]["2019"] == {"E": 100, "I": 1000, "flag": "severe", "rule": "flag"}
        assert opened["data"]["links"]["emigration_by_origin"].startswith("/data/UNECE,MIGR_FLOW,")

    assert act(hub, rus, case["id"], "ack")["state"] == "acknowledged"
    explained = act(hub, rus, case["id"], "explain", reason="DUR_CRIT", text="we count stays of 3 months and more")
    assert explained["state"] == "explained"
    revising = push(hub, kaz, emigration("KAZ", "RUS", {"2019": 960}))

    with hub.client(rus) as client:
        shown = client.get(f"/reconciliations/{case['id']}").json()
    assert shown["state"] == "resolved" and shown["resolved_by_submission"] == revising
    [period] = shown["periods"]
    assert (period["e_open"], period["e_now"], period["i_now"], period["e_submission"]) == (100, 960, 1000, revising)

    for country in ("KAZ", "RUS"):
        delivered = wait_for(lambda c=country: all_case_events(receivers[c], secrets[c]), timeout=120)
        assert [e["type"] for e in delivered] == CASE_STORY  # each once, in the order things happened
        assert delivered[-1]["data"]["resolved_by_submission"] == revising

    # the feed tells the whole story in commit order: pushes, the case, the revision that settled it
    story = [(e["type"], e["payload"].get("submission")) for e in feed(hub, admin)
             if e["type"].startswith(("case.", "submission."))]
    assert story == [("submission.accepted", story[0][1]), ("submission.accepted", opening), ("case.opened", opening),
                     ("case.acknowledged", None), ("case.explained", None), ("submission.accepted", revising),
                     ("case.revised", revising), ("case.resolved", None)]
    # KAZ's own feed: its pushes and its case, not RUS's submission
    assert [e["type"] for e in feed(hub, kaz) if not e["type"].startswith("data.")] == [
        "submission.accepted", *CASE_STORY[:3], "submission.accepted", *CASE_STORY[3:]]

    # e-mail went out to both contact addresses, with the figures and the link to act on
    def opening_mail() -> list[Any]:
        return [m for m in smtp.messages if "opened" in m["Subject"].lower()]

    mails = wait_for(lambda: (lambda got: got if len(got) == 2 else None)(opening_mail()), timeout=120)
    assert sorted(m["X-Rcpt-To"] for m in mails) == ["migration@kaz.example", "migration@rus.example"]
    text = mails[0].get_payload(decode=True).decode()
    assert "1000" in text and "100" in text and f"https://hub.example/reconciliations/{case['id']}" in text


def test_the_payload_a_receiver_gets_is_the_event_in_the_feed(hub, receivers):
    """A webhook body and the feed entry describe one event: same id, type and payload."""
    kaz, rus = hub.token("KAZ"), hub.token("RUS")
    with hub.client(kaz) as client:
        secret = client.post("/subscriptions", json={"url": receivers["KAZ"].url,
                                                      "event_types": ["case.opened"]}).json()["secret"]
    push(hub, kaz, emigration("KAZ", "RUS", {"2019": 100}))
    push(hub, rus, immigration("RUS", "KAZ", {"2019": 1000}))
    [delivered] = wait_for(lambda: case_events(receivers["KAZ"], secret), timeout=120)
    [listed] = [e for e in feed(hub, kaz) if e["type"] == "case.opened"]
    assert {r.headers["webhook-id"] for r in receivers["KAZ"].received} == {listed["id"]}
    assert json.loads(json.dumps(delivered["data"]["links"])) == listed["payload"]["links"]
