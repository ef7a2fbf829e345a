"""Events (issue #10, "Telling people and machines"), in process with real loopback receivers: webhook
subscriptions with Standard Webhooks signatures checked by the `standardwebhooks` package, SSRF refusals,
object-level rights, the feed (paging, filters, rights, long polling), e-mail to a real SMTP server, and the
events the hub raises itself (submissions, partner revisions, structures)."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from exchange.events import emit
from exchange.messages import Series
from exchange.settings import Settings
from exchange.store.engine import begin_write
from exchange.store.tables import delivery, subscription
from tests.conftest import auth
from tests.helpers import SS_21, key, obs, simple_message, ss_message
from tests.receivers import SmtpSink, WebhookReceiver, wait_for


@pytest.fixture
def smtp():  # noqa: ANN201
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver():  # noqa: ANN201
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


@pytest.fixture
def settings(database_url, smtp) -> Settings:
    return Settings(database_url=database_url, webhook_allow_private=True, dispatch_interval_s=0.05,
                    webhook_retry_schedule=[0.1, 0.1], webhook_disable_after=3, smtp_host="127.0.0.1",
                    smtp_port=smtp.port, smtp_from="hub@exchange.test", public_url="https://hub.example")


def push(client, token, message, content_type=SS_21):
    return client.post("/data", content=message, headers=auth(token, content_type))


def subscribe(client, token, url, types=("submission.accepted",), **extra):
    return client.post("/subscriptions", json={"url": url, "event_types": list(types), **extra},
                       headers=auth(token, None))


def verified(receiver, secret):
    """Every received delivery, verified by the independent Standard Webhooks implementation."""
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]


def test_a_subscriber_receives_signed_events_it_can_verify(client, token_for, receiver):
    kaz = token_for("KAZ")
    made = subscribe(client, kaz, receiver.url, ["submission.accepted", "submission.rejected"])
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert secret.startswith("whsec_") and made.json()["owner"] == "KAZ"
    answer = push(client, kaz, simple_message())
    assert answer.status_code == 200
    wait_for(lambda: receiver.received)
    [event] = verified(receiver, secret)
    assert event["type"] == "submission.accepted"
    assert event["data"]["submission"] == answer.json()["submission"]
    assert event["data"]["links"]["submission"] == f"https://hub.example/submissions/{event['data']['submission']}"
    assert receiver.received[0].headers["webhook-id"] == event["data"]["id"]
    with pytest.raises(Exception):
        Webhook(secret).verify(receiver.received[0].body + b" ", receiver.received[0].headers)
    # the secret is shown once: never in a listing or a read
    assert "secret" not in client.get(f"/subscriptions/{made.json()['id']}", headers=auth(kaz, None)).json()
    assert all("secret" not in s for s in client.get("/subscriptions", headers=auth(kaz, None)).json()["items"])
    log = client.get(f"/subscriptions/{made.json()['id']}/deliveries", headers=auth(kaz, None)).json()["items"]
    assert [(d["state"], d["attempts"], d["last_status"]) for d in log] == [("delivered", 1, 200)]


def test_a_rejected_push_is_an_event_too(client, token_for, receiver):
    kaz = token_for("KAZ")
    secret = subscribe(client, kaz, receiver.url, ["submission.rejected"]).json()["secret"]
    assert push(client, kaz, simple_message(reporter="RUS")).status_code in (403, 422)
    wait_for(lambda: receiver.received)
    [event] = verified(receiver, secret)
    assert event["type"] == "submission.rejected" and event["data"]["errors"] >= 1
    assert event["data"]["first_issues"][0]["code"]


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]:8080/hook", "http://localhost:9/hook", "http://127.0.0.1/x",
                                 "ftp://example.org/hook", "http://user:pw@example.org/hook", "http://0.0.0.0/",
                                 "http://[::ffff:127.0.0.1]/", "http://224.0.0.1/", "not a url",
                                 "http://bad_host.example/"])
def test_urls_inside_the_network_are_refused_and_nothing_is_stored(database_url, url):
    from fastapi.testclient import TestClient

    from exchange.app import create_app
    from exchange.auth import create_token
    from exchange.hub import open_hub

    settings = Settings(database_url=database_url, dispatcher_enabled=False)
    hub = open_hub(settings)
    try:
        with begin_write(hub.engine) as conn:
            token = create_token(conn, provider="KAZ", admin=False)[1]
        with TestClient(create_app(settings, hub)) as client:
            answer = subscribe(client, token, url)
            assert answer.status_code == 422, answer.text
            assert answer.json()["message"]
        with hub.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(subscription)).scalar_one() == 0
    finally:
        hub.close()


def test_bad_subscription_requests_are_422(client, token_for):
    kaz = token_for("KAZ")
    assert subscribe(client, kaz, "http://127.0.0.1:9/", ["no.such.type"]).status_code == 422
    assert subscribe(client, kaz, "http://127.0.0.1:9/", []).status_code == 422
    assert client.post("/subscriptions", json={"event_types": ["case.opened"]}, headers=auth(kaz, None)).status_code == 422
    anonymous = client.post("/subscriptions", json={"url": "http://127.0.0.1:9/", "event_types": ["case.opened"]})
    assert anonymous.status_code == 401


def test_a_provider_sees_and_changes_only_its_own_subscriptions(client, token_for, admin_token, receiver):
    kaz, rus = token_for("KAZ"), token_for("RUS")
    sub = subscribe(client, kaz, receiver.url).json()["id"]
    assert client.get(f"/subscriptions/{sub}", headers=auth(rus, None)).status_code == 404
    assert client.delete(f"/subscriptions/{sub}", headers=auth(rus, None)).status_code == 404
    assert client.get(f"/subscriptions/{sub}/deliveries", headers=auth(rus, None)).status_code == 404
    assert client.get("/subscriptions", headers=auth(rus, None)).json()["items"] == []
    assert [s["id"] for s in client.get("/subscriptions", headers=auth(admin_token, None)).json()["items"]] == [sub]
    assert client.delete(f"/subscriptions/{sub}", headers=auth(kaz, None)).status_code == 204
    assert client.get(f"/subscriptions/{sub}", headers=auth(kaz, None)).status_code == 404


def test_a_subscriber_gets_only_events_that_concern_it(client, token_for, receiver):
    kaz, rus = token_for("KAZ"), token_for("RUS")
    subscribe(client, rus, receiver.url, ["submission.accepted"])
    assert push(client, kaz, simple_message()).status_code == 200
    assert push(client, rus, simple_message(reporter="RUS", partners=("KAZ",))).status_code == 200
    wait_for(lambda: receiver.received)
    with client.app.state.hub.engine.connect() as conn:  # both pushes' deliveries were fanned out at commit
        assert conn.execute(select(func.count()).select_from(delivery)).scalar_one() == 1
    assert json.loads(receiver.received[0].body)["data"]["provider"] == "RUS"


def test_redelivery_sends_the_same_event_again(client, token_for, receiver):
    kaz = token_for("KAZ")
    made = subscribe(client, kaz, receiver.url).json()
    push(client, kaz, simple_message())
    wait_for(lambda: receiver.received)
    event_id = receiver.received[0].headers["webhook-id"]
    again = client.post(f"/subscriptions/{made['id']}/deliveries/{event_id}/redeliver", headers=auth(kaz, None))
    assert again.status_code == 202, again.text
    wait_for(lambda: len(receiver.received) == 2)
    assert [r.headers["webhook-id"] for r in receiver.received] == [event_id, event_id]
    assert len(verified(receiver, made["secret"])) == 2
    other = client.post(f"/subscriptions/{made['id']}/deliveries/evt_{'0' * 32}/redeliver", headers=auth(kaz, None))
    assert other.status_code == 404


def test_a_failing_receiver_is_retried_then_disabled_with_an_event(client, token_for, receiver, smtp, admin_token):
    kaz = token_for("KAZ")
    receiver.status = 500
    watcher = WebhookReceiver().start()
    try:
        made = subscribe(client, kaz, receiver.url).json()
        subscribe(client, kaz, watcher.url, ["subscription.disabled"])
        push(client, kaz, simple_message())
        wait_for(lambda: watcher.received, timeout=60)
        disabled = json.loads(watcher.received[0].body)
        assert disabled["type"] == "subscription.disabled" and disabled["data"]["subscription"] == made["id"]
    finally:
        watcher.stop()
    assert len(receiver.received) == 3  # the first attempt and the two retries of the schedule
    state = client.get(f"/subscriptions/{made['id']}", headers=auth(kaz, None)).json()
    assert state["active"] is False and "consecutive failed" in state["disabled_reason"]
    log = client.get(f"/subscriptions/{made['id']}/deliveries", headers=auth(kaz, None)).json()["items"]
    assert [(d["state"], d["attempts"], d["last_status"]) for d in log] == [("failed", 3, 500)]


def test_a_receiver_that_comes_back_gets_the_event(client, token_for):
    kaz = token_for("KAZ")
    client.app.state.hub.settings.webhook_retry_schedule = [0.2] * 50
    client.app.state.hub.settings.webhook_disable_after = 1000
    down = WebhookReceiver()  # not started: connection refused
    made = subscribe(client, kaz, down.url).json()
    push(client, kaz, simple_message())
    deliveries = f"/subscriptions/{made['id']}/deliveries"
    wait_for(lambda: client.get(deliveries, headers=auth(kaz, None)).json()["items"][0]["attempts"] >= 2)
    down.start()
    try:
        wait_for(lambda: down.received)
        assert verified(down, made["secret"])[0]["type"] == "submission.accepted"
        entry = wait_for(lambda: [d for d in client.get(deliveries, headers=auth(kaz, None)).json()["items"]
                                  if d["state"] == "delivered"])
        assert entry[0]["attempts"] >= 3
    finally:
        down.stop()


# --- feed ------------------------------------------------------------------------------------------------------


def _emit(hub, type_, providers, **kw):
    with begin_write(hub.engine) as conn:
        return emit(conn, type_, providers, {"n": 1}, **kw)


def read_feed(client, token, count, limit=100, **params):
    """Page through the feed until ``count`` events came. On PostgreSQL the feed holds back events while any
    older transaction of the cluster is still running (other tests' too), so empty pages long-poll."""
    events, after = [], None
    deadline = time.monotonic() + 60
    while len(events) < count and time.monotonic() < deadline:
        answer = client.get("/events", params={"limit": limit, "wait": 2, **params, **({"after": after} if after else {})},
                            headers=auth(token, None))
        assert answer.status_code == 200, answer.text
        events += answer.json()["events"]
        after = answer.json()["next"]
    return events, after


def test_the_feed_pages_in_commit_order_with_a_cursor(client, hub, admin_token):
    uids = [_emit(hub, "case.commented", ["KAZ", "RUS"]) for _ in range(5)]
    events, after = read_feed(client, admin_token, 5, limit=2)
    assert [e["id"] for e in events] == uids
    assert client.get("/events", params={"after": after}, headers=auth(admin_token, None)).json() == {
        "events": [], "next": after}


def test_the_feed_shows_a_provider_only_what_concerns_it(client, hub, token_for, admin_token):
    kaz_rus = _emit(hub, "case.opened", ["KAZ", "RUS"], dataflow="UNECE:MIGR_FLOW(1.0)")
    kaz_ukr = _emit(hub, "case.opened", ["KAZ", "UKR"])
    rus_only = _emit(hub, "submission.accepted", ["RUS"])
    public = _emit(hub, "structure.registered", [])

    read_feed(client, admin_token, 4)

    def ids(token, **params):
        answer = client.get("/events", params=params, headers=auth(token, None))
        assert answer.status_code == 200, answer.text
        return [e["id"] for e in answer.json()["events"]]

    assert ids(token_for("KAZ")) == [kaz_rus, kaz_ukr, public]
    assert ids(token_for("RUS")) == [kaz_rus, rus_only, public]
    assert ids(admin_token) == [kaz_rus, kaz_ukr, rus_only, public]
    assert ids(token_for("KAZ"), partner="UKR") == [kaz_ukr]
    assert ids(admin_token, type="submission.accepted") == [rus_only]
    assert ids(admin_token, dataflow="UNECE:MIGR_FLOW(1.0)") == [kaz_rus]
    assert client.get("/events").status_code == 401
    assert client.get("/events", params={"after": "x"}, headers=auth(admin_token, None)).status_code == 422
    assert client.get("/events", params={"type": "nope"}, headers=auth(admin_token, None)).status_code == 422


def test_long_polling_answers_when_an_event_arrives(client, hub, admin_token):
    import threading

    _emit(hub, "case.opened", ["KAZ"])
    after = read_feed(client, admin_token, 1)[1]
    timer = threading.Timer(0.5, lambda: _emit(hub, "case.closed", ["KAZ"]))
    timer.start()
    page = client.get("/events", params={"after": after, "wait": 30}, headers=auth(admin_token, None)).json()
    timer.join()
    assert [e["type"] for e in page["events"]] == ["case.closed"]
    empty = client.get("/events", params={"after": page["next"], "wait": 0.2}, headers=auth(admin_token, None))
    assert empty.json() == {"events": [], "next": page["next"]}


# --- events the hub raises -------------------------------------------------------------------------------------


def revision(reporter="KAZ", partner="RUS", value="150"):
    return ss_message([Series(key(REF_AREA=reporter, COUNTERPART_AREA=partner), [obs("2016", value)])])


def test_a_revision_tells_the_partner_once_per_submission(client, token_for, admin_token):
    kaz = token_for("KAZ")
    assert push(client, kaz, simple_message(partners=("RUS", "UKR", "BLR"))).status_code == 200
    message = ss_message([Series(key(COUNTERPART_AREA="RUS"), [obs("2016", "999"), obs("2017", "998")]),
                          Series(key(COUNTERPART_AREA="UKR"), [obs("2015", "1")])])
    answer = push(client, kaz, message)
    assert answer.status_code == 200, answer.text
    events = read_feed(client, admin_token, 2, type="data.partner_revised")[0]
    by_partner = {e["payload"]["partner"]: e for e in events}
    assert sorted(by_partner) == ["RUS", "UKR"]  # BLR's mirror data were not touched
    [change] = by_partner["RUS"]["payload"]["changes"]
    assert change["observations"] == 2 and change["first_period"] == "2016" and change["last_period"] == "2017"
    assert change["total_before"] == 101 + 102 and change["total_after"] == 999 + 998
    assert change["links"]["your_data"].endswith("/data/UNECE,MIGR_FLOW,1.0/.RUS.IMM..KAZ.....")
    assert by_partner["RUS"]["providers"] == ["RUS"]
    rus = client.get("/events", params={"type": "data.partner_revised"}, headers=auth(token_for("RUS"), None)).json()
    assert [e["payload"]["partner"] for e in rus["events"]] == ["RUS"]


def test_e_mail_reaches_the_contact_address_with_text_to_act_on(client, token_for, admin_token, smtp):
    contact = client.put("/providers/RUS/contact", json={"email": "migration@rus.example"},
                         headers=auth(admin_token, None))
    assert contact.status_code == 200, contact.text
    kaz = token_for("KAZ")
    push(client, kaz, simple_message())
    push(client, kaz, revision(value="150"))
    message = wait_for(lambda: smtp.messages)[0]
    assert message["To"] == "migration@rus.example" and message["From"] == "hub@exchange.test"
    assert "KAZ revised data mirroring yours" in message["Subject"]
    text = message.get_payload(decode=True).decode()
    assert "1 observations revised" in text and "total before 101.0, after 150.0 (difference +49)" in text
    assert "https://hub.example/data/UNECE,MIGR_FLOW,1.0/.RUS.IMM..KAZ....." in text


def test_contacts_are_for_administrators_to_set(client, token_for, admin_token):
    kaz = token_for("KAZ")
    assert client.put("/providers/KAZ/contact", json={"email": "a@b.example"}, headers=auth(kaz, None)).status_code == 403
    assert client.put("/providers/KAZ/contact", json={"email": "nope"}, headers=auth(admin_token, None)).status_code == 422
    assert client.put("/providers/kaz!/contact", json={"email": "a@b.example"},
                      headers=auth(admin_token, None)).status_code == 422
    assert client.put("/providers/KAZ/contact", json={"email": "a@b.example"},
                      headers=auth(admin_token, None)).status_code == 200
    assert client.get("/providers/KAZ/contact", headers=auth(kaz, None)).json()["email"] == "a@b.example"
    assert client.get("/providers/KAZ/contact", headers=auth(token_for("RUS"), None)).status_code == 404



def test_registering_structures_is_a_public_event(client, token_for, admin_token):
    from tests.conftest import specimen

    rus = token_for("RUS")
    made = subscribe(client, rus, "http://127.0.0.1:9/hook", ["structure.registered"])
    assert made.status_code == 201
    answer = client.post("/structure", content=specimen("structure-ECB_EXR_NG-full.xml"), headers=auth(admin_token))
    assert answer.status_code == 201
    [event] = read_feed(client, rus, 1, type="structure.registered")[0]
    urns = [a["urn"] for a in answer.json()["artefacts"]]
    assert event["payload"]["artefacts"] == urns and event["providers"] == []
    freq = "urn:sdmx:org.sdmx.infomodel.codelist.Codelist=SDMX:CL_FREQ(1.0)"
    assert event["payload"]["links"][freq] == "https://hub.example/structure/codelist/SDMX/CL_FREQ/1.0"
    with client.app.state.hub.engine.connect() as conn:  # the provider's subscription got its delivery row
        assert conn.execute(select(func.count()).select_from(delivery)).scalar_one() == 1


def test_a_delivery_the_hub_cannot_compose_does_not_hold_back_the_others(client, token_for, receiver, monkeypatch):
    """A fault inside the hub while composing one delivery is a failed attempt of that delivery (retried on the
    schedule), not a lost round: the other deliveries claimed with it still go out at once."""
    from exchange.events import dispatcher

    kaz = token_for("KAZ")
    made = subscribe(client, kaz, receiver.url).json()
    real, composed = dispatcher.body, []

    def fails_once(uid, type_, occurred_at, data):  # noqa: ANN001, ANN202
        composed.append(uid)
        if len(composed) == 1:
            raise RuntimeError("a bug composing this one delivery")
        return real(uid, type_, occurred_at, data)

    monkeypatch.setattr(dispatcher, "body", fails_once)
    first, second = (push(client, kaz, simple_message(base=b)).json()["submission"] for b in (100, 500))
    events = wait_for(lambda: (lambda got: got if len(got) == 2 else None)(
        {e["data"]["submission"] for e in verified(receiver, made["secret"])}))
    assert events == {first, second}
    log = client.get(f"/subscriptions/{made['id']}/deliveries", headers=auth(kaz, None)).json()["items"]
    assert sorted(d["attempts"] for d in log) == [1, 2] and all(d["state"] == "delivered" for d in log)
