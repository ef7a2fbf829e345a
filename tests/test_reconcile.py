"""Reconciliation cases (issue #10): constructed pairs pushed through the real push path, every transition and
refusal with "nothing changed" checked, the summary without a token, and the policy with its history."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from exchange.messages import Series
from exchange.store.tables import event, recon_case, recon_timeline
from tests.conftest import auth
from tests.helpers import SS_21, key, obs, ss_message


def emigration(origin: str, destination: str, values: dict[str, int], **attrs: str) -> Series:
    return Series(key(REF_AREA=origin, MIGR_FLOW="EMI", COUNTERPART_AREA=destination, **attrs),
                  [obs(p, str(v)) for p, v in values.items()])


def immigration(destination: str, origin: str, values: dict[str, int], **attrs: str) -> Series:
    return Series(key(REF_AREA=destination, MIGR_FLOW="IMM", COUNTERPART_AREA=origin, **attrs),
                  [obs(p, str(v)) for p, v in values.items()])


def push(client, token: str, *series: Series) -> str:
    answer = client.post("/data", content=ss_message(series), headers=auth(token, SS_21))
    assert answer.status_code == 200, answer.text
    return answer.json()["submission"]


@pytest.fixture
def tokens(token_for, admin_token) -> dict[str | None, str]:
    return {p: token_for(p) for p in ("KAZ", "RUS", "KGZ")} | {None: admin_token}


def hdr(token: str) -> dict[str, str]:
    return auth(token, None)


def opened(client, tokens) -> tuple[dict, str, str]:
    """KAZ reports 100 emigrants to RUS in 2019, RUS 1000 immigrants from KAZ: a case opens on RUS's push."""
    kaz = push(client, tokens["KAZ"], emigration("KAZ", "RUS", {"2018": 500, "2019": 100}))
    rus = push(client, tokens["RUS"], immigration("RUS", "KAZ", {"2018": 510, "2019": 1000}))
    listed = client.get("/reconciliations", headers=hdr(tokens["KAZ"])).json()
    assert listed["total"] == 1
    return listed["items"][0], kaz, rus


def state(client, tokens, case_id: int) -> tuple[str, int]:
    shown = client.get(f"/reconciliations/{case_id}", headers=hdr(tokens[None])).json()
    return shown["state"], len(shown["timeline"])


def test_case_opens_with_both_sides_and_event(client, tokens, hub):
    case, kaz, rus = opened(client, tokens)
    assert (case["origin"], case["destination"], case["state"], case["kind"]) == ("KAZ", "RUS", "open", "automatic")
    assert case["opened_by_submission"] == rus and case["policy_version"] == 0
    shown = client.get(f"/reconciliations/{case['id']}", headers=hdr(tokens["RUS"])).json()
    [period] = shown["periods"]
    assert (period["period"], period["e_open"], period["i_open"], period["flag_open"]) == ("2019", 100, 1000, "severe")
    assert (period["e_submission"], period["i_submission"]) == (kaz, rus)
    assert shown["links"]["emigration_by_origin"] == "/data/UNECE,MIGR_FLOW,1.0/A.KAZ.EMI._T.RUS._T._T._T._T.PS"
    with hub.engine.connect() as conn:
        [row] = conn.execute(select(event).where(event.c.type == "case.opened")).all()
    payload = json.loads(row.payload)
    assert row.providers == " KAZ RUS " and payload["links"]["case"] == f"/reconciliations/{case['id']}"
    assert payload["links"]["submissions"] == [f"/submissions/{rus}"]
    assert payload["summary"] == (f"Reconciliation case {case['id']} opened: KAZ -> RUS (A._T._T._T.PS, residence), "
                                  "now open; 2019: E 100.0 vs I 1000.0")


def test_lifecycle_revise_resolve_and_reopen(client, tokens, hub):
    case, _, _ = opened(client, tokens)
    cid = case["id"]
    assert client.post(f"/reconciliations/{cid}/ack", headers=hdr(tokens["RUS"])).json()["state"] == "acknowledged"
    answer = client.post(f"/reconciliations/{cid}/explain", headers=hdr(tokens["RUS"]),
                         json={"reason": "DUR_CRIT", "text": "we count stays of 3 months"})
    assert answer.status_code == 200 and answer.json()["state"] == "explained"
    # a new out-of-policy period joins the open case (no second case)
    push(client, tokens["KAZ"], emigration("KAZ", "RUS", {"2017": 50}))
    push(client, tokens["RUS"], immigration("RUS", "KAZ", {"2017": 900}))
    assert client.get("/reconciliations", headers=hdr(tokens["KAZ"])).json()["total"] == 1
    shown = client.get(f"/reconciliations/{cid}", headers=hdr(tokens["KAZ"])).json()
    assert [p["period"] for p in shown["periods"]] == ["2017", "2019"]
    # KAZ revises 2017 to agree: every period is now within policy or explained -> resolved, naming the push
    revising = push(client, tokens["KAZ"], emigration("KAZ", "RUS", {"2017": 905}))
    shown = client.get(f"/reconciliations/{cid}", headers=hdr(tokens["KAZ"])).json()
    assert shown["state"] == "resolved" and shown["resolved_by_submission"] == revising
    kaz_2017 = [(h["value"], h["current"]) for h in shown["evidence"]["history"]
                if (h["side"], h["period"]) == ("E", "2017")]
    assert kaz_2017 == [(50, False), (905, True)]  # the pair's history across revisions
    assert [t["action"] for t in shown["timeline"]][-2:] == ["revised", "resolved"]
    # a later revision moves 2017 out again: the case reopens
    push(client, tokens["RUS"], immigration("RUS", "KAZ", {"2017": 100}))
    shown = client.get(f"/reconciliations/{cid}", headers=hdr(tokens["KAZ"])).json()
    assert shown["state"] == "reopened" and shown["timeline"][-1]["action"] == "reopened"
    with hub.engine.connect() as conn:
        types = [r.type for r in conn.execute(select(event.c.type).where(event.c.type.startswith("case."))
                                               .order_by(event.c.id))]
    assert types == ["case.opened", "case.acknowledged", "case.explained", "case.revised", "case.revised",
                     "case.resolved", "case.reopened"]


def test_refusals_change_nothing(client, tokens, hub):
    case, _, _ = opened(client, tokens)
    cid = case["id"]
    before = state(client, tokens, cid)
    bad = client.post(f"/reconciliations/{cid}/explain", headers=hdr(tokens["RUS"]), json={"reason": "BECAUSE"})
    assert bad.status_code == 422 and "DUR_CRIT" in bad.json()["message"] and "TIMING" in bad.json()["valid_codes"]
    close = client.post(f"/reconciliations/{cid}/close", headers=hdr(tokens["KAZ"]))
    assert close.status_code == 409 and close.json()["state"] == "open"
    assert close.json()["allowed"] == ["ack", "comment", "explain"]
    for path in ("", "/ack", "/comment"):
        method = client.get if not path else client.post
        third = method(f"/reconciliations/{cid}{path}", headers=hdr(tokens["KGZ"]),
                       **({"json": {"text": "hi"}} if path == "/comment" else {}))
        assert third.status_code == 404 and "KAZ" not in third.text and "RUS" not in third.text
    unknown = client.get("/reconciliations/99999", headers=hdr(tokens["KGZ"]))
    assert unknown.status_code == 404 and unknown.json()["message"] == third.json()["message"].replace(str(cid), "99999")
    huge = client.post(f"/reconciliations/{cid}/comment", headers=hdr(tokens["KAZ"]), json={"text": "x" * 4001})
    assert huge.status_code == 422 and "4000" in huge.json()["message"]
    assert client.get("/reconciliations", headers=hdr(tokens["KGZ"])).json()["total"] == 0
    assert state(client, tokens, cid) == before
    with hub.engine.connect() as conn:
        case_events = select(func.count()).select_from(event).where(event.c.type.startswith("case."))
        assert conn.execute(case_events).scalar_one() == 1


def test_close_needs_both_partners_and_comments(client, tokens):
    case, _, _ = opened(client, tokens)
    cid = case["id"]
    client.post(f"/reconciliations/{cid}/explain", headers=hdr(tokens["KAZ"]), json={"reason": "TIMING"})
    first = client.post(f"/reconciliations/{cid}/close", headers=hdr(tokens["KAZ"])).json()
    assert first["state"] == "explained" and first["close_agreed"] == ["KAZ"]
    second = client.post(f"/reconciliations/{cid}/close", headers=hdr(tokens["RUS"])).json()
    assert second["state"] == "closed" and second["close_agreed"] == ["KAZ", "RUS"]
    said = client.post(f"/reconciliations/{cid}/comment", headers=hdr(tokens["RUS"]), json={"text": "thanks"})
    assert said.status_code == 200
    shown = client.get(f"/reconciliations/{cid}", headers=hdr(tokens["KAZ"])).json()
    assert [t["action"] for t in shown["timeline"]] == ["opened", "explain", "close", "close", "comment"]
    assert shown["timeline"][-1]["text"] == "thanks"


def test_admin_closes_alone(client, tokens):
    case, _, _ = opened(client, tokens)
    client.post(f"/reconciliations/{case['id']}/explain", headers=hdr(tokens[None]), json={"reason": "UNKNOWN"})
    assert client.post(f"/reconciliations/{case['id']}/close", headers=hdr(tokens[None])).json()["state"] == "closed"


def test_missing_side_rule(client, tokens):
    """RUS reported immigration from UZB for 2019 but nothing from KAZ; KAZ's push of its emigration to RUS touches
    the pair and finds RUS's side missing."""
    push(client, tokens["RUS"], immigration("RUS", "UZB", {"2019": 70}))
    push(client, tokens["KAZ"], emigration("KAZ", "RUS", {"2019": 40}))
    [case] = client.get("/reconciliations", headers=hdr(tokens["KAZ"])).json()["items"]
    shown = client.get(f"/reconciliations/{case['id']}", headers=hdr(tokens["KAZ"])).json()
    periods = [(p["period"], p["rule"], p["e_now"], p["i_now"]) for p in shown["periods"]]
    assert periods == [("2019", "missing_side", 40, None)]


def test_small_flows_and_old_periods_stay_quiet(client, tokens):
    """E+I under 100, or a disagreement older than the latest five periods, opens nothing."""
    push(client, tokens["KAZ"], emigration("KAZ", "RUS", {"2010": 100, **{str(y): 500 for y in range(2014, 2020)}}))
    push(client, tokens["RUS"], immigration("RUS", "KAZ", {"2010": 1000, **{str(y): 505 for y in range(2014, 2020)}}))
    push(client, tokens["KAZ"], emigration("KAZ", "KGZ", {"2019": 10}))
    push(client, tokens["KGZ"], immigration("KGZ", "KAZ", {"2019": 60}))
    assert client.get("/reconciliations", headers=hdr(tokens[None])).json()["total"] == 0


def test_request_and_data_request(client, tokens, hub):
    push(client, tokens["KAZ"], emigration("KAZ", "RUS", {"2018": 500, "2019": 510}))
    push(client, tokens["RUS"], immigration("RUS", "KAZ", {"2018": 505}))
    asked = client.post("/reconciliations", headers=hdr(tokens["KAZ"]),
                        json={"origin": "KAZ", "destination": "RUS", "data": True, "text": "please send 2019"})
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert (body["kind"], body["requested_by"], body["created"]) == ("requested", "KAZ", True)
    shown = client.get(f"/reconciliations/{body['id']}", headers=hdr(tokens["RUS"])).json()
    assert [(p["period"], p["rule"]) for p in shown["periods"]] == [("2019", "requested")]
    # RUS sends 2019 in line with KAZ: the requested case resolves, naming RUS's push
    sent = push(client, tokens["RUS"], immigration("RUS", "KAZ", {"2019": 512}))
    shown = client.get(f"/reconciliations/{body['id']}", headers=hdr(tokens["KAZ"])).json()
    assert shown["state"] == "resolved" and shown["resolved_by_submission"] == sent
    third = client.post("/reconciliations", headers=hdr(tokens["KGZ"]), json={"origin": "KAZ", "destination": "RUS"})
    assert third.status_code == 403
    with hub.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(recon_case)).scalar_one() == 1


def test_summary_needs_no_token_and_shows_no_values(client, tokens):
    opened(client, tokens)
    summary = client.get("/reconciliations/summary")
    assert summary.status_code == 200
    assert summary.json()["items"] == [{"dataflow": "UNECE:MIGR_FLOW(1.0)", "origin": "KAZ", "destination": "RUS",
                                        "state": "open", "reason": None, "cases": 1}]
    assert client.get("/reconciliations").status_code == 401


def test_policy_versions(client, tokens, hub):
    assert client.get("/reconciliations/policy").json()["version"] == 0
    refused = client.put("/reconciliations/policy", headers=hdr(tokens["KAZ"]), json={"min_total": 10})
    assert refused.status_code == 403
    bad = client.put("/reconciliations/policy", headers=hdr(tokens[None]), json={"flag_level": "huge"})
    assert bad.status_code == 422
    put = client.put("/reconciliations/policy", headers=hdr(tokens[None]), json={"min_total": 10})
    assert put.json()["version"] == 1
    current = client.get("/reconciliations/policy").json()
    assert current["policy"]["min_total"] == 10 and [h["version"] for h in current["history"]] == [1, 0]
    push(client, tokens["KAZ"], emigration("KAZ", "KGZ", {"2019": 10}))
    push(client, tokens["KGZ"], immigration("KGZ", "KAZ", {"2019": 60}))
    [case] = client.get("/reconciliations", headers=hdr(tokens["KAZ"])).json()["items"]
    assert case["policy_version"] == 1


def test_reconciliation_off(settings, tmp_path):
    from fastapi.testclient import TestClient

    from exchange.app import create_app
    from exchange.hub import open_hub

    hub = open_hub(settings.model_copy(update={"reconciliation": False}))
    try:
        with TestClient(create_app(settings, hub)) as client:
            from tests.conftest import _token
            tokens = {p: _token(hub, p) for p in ("KAZ", "RUS")}
            push(client, tokens["KAZ"], emigration("KAZ", "RUS", {"2019": 100}))
            push(client, tokens["RUS"], immigration("RUS", "KAZ", {"2019": 1000}))
        with hub.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(recon_timeline)).scalar_one() == 0
    finally:
        hub.close()


def test_real_eu27_data_open_the_documented_cases(hub, client, admin_token):
    """The demo's real messages, each under its country's identity, through the push path (README numbers)."""
    from exchange.body import spool
    from exchange.demo import messages_in_memory
    from exchange.ingest import Principal

    for country, data in messages_in_memory():
        assert hub.ingestor.submit(spool([data], len(data) + 1), SS_21, Principal(None, country, False)).status == 200
    listed = client.get("/reconciliations", params={"limit": 1000}, headers=hdr(admin_token)).json()
    assert listed["total"] == 141 and {c["state"] for c in listed["items"]} == {"open"}
    [worst] = [c for c in listed["items"] if (c["origin"], c["destination"]) == ("ITA", "ESP")]
    shown = client.get(f"/reconciliations/{worst['id']}", headers=hdr(admin_token)).json()
    assert [p["period"] for p in shown["periods"]] == ["2015", "2016", "2017", "2018", "2019"]
    assert (shown["periods"][-1]["e_now"], shown["periods"][-1]["i_now"]) == (6787, 21559)
    suggested = set()
    for case in listed["items"]:
        evidence = client.get(f"/reconciliations/{case['id']}", headers=hdr(admin_token)).json()["evidence"]
        suggested |= {s["suggestion"] for s in evidence["suggestions"]}
    assert suggested == {"DUR_CRIT", "TIMING"}


def test_request_joins_the_open_case_and_filters(client, tokens):
    case, _, _ = opened(client, tokens)
    joined = client.post("/reconciliations", headers=hdr(tokens["RUS"]),
                         json={"origin": "KAZ", "destination": "RUS", "periods": ["2018"], "text": "and 2018?"})
    assert joined.status_code == 201 and joined.json()["created"] is False and joined.json()["id"] == case["id"]
    shown = client.get(f"/reconciliations/{case['id']}", headers=hdr(tokens["KAZ"])).json()
    assert [(p["period"], p["rule"]) for p in shown["periods"]] == [("2018", "requested"), ("2019", "flag")]
    assert shown["kind"] == "automatic" and shown["timeline"][-1]["action"] == "request_joined"
    def total(**params: str) -> int:
        return client.get("/reconciliations", params=params, headers=hdr(tokens["KAZ"])).json()["total"]
    assert (total(period="2018"), total(period="2010"), total(partner="RUS"), total(partner="UZB")) == (1, 0, 1, 0)
    assert (total(state="open"), total(state="closed")) == (1, 0)


def test_one_open_case_per_pair_is_enforced_by_the_database(client, tokens, hub):
    """The partial unique index refuses a second open case for the same pair, breakdown and basis."""
    from datetime import UTC, datetime

    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    case, _, _ = opened(client, tokens)
    row = {"dataflow": case["dataflow"], "origin": "KAZ", "destination": "RUS", "breakdown": case["breakdown"],
           "basis": "residence", "state": "acknowledged", "kind": "requested", "policy_version": 0,
           "close_agreed": "", "opened_at": datetime.now(UTC), "updated_at": datetime.now(UTC)}
    with pytest.raises(IntegrityError), hub.engine.begin() as conn:
        conn.execute(insert(recon_case).values(**row))
    with hub.engine.begin() as conn:  # a resolved one may sit beside the open one
        conn.execute(insert(recon_case).values(**{**row, "state": "resolved"}))
