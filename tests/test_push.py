"""POST /data end to end: answers, counts, history semantics, idempotence, auth, report retrieval."""

from __future__ import annotations

import gzip

import pytest
from sqlalchemy import func, select, text

from exchange.messages import Series
from tests.conftest import ON_POSTGRES, auth
from tests.helpers import CSV_20, SS_21, csv20, csv_row, dims, key, obs, simple_message, ss_message


def stored(hub, current_only: bool = True) -> list[dict]:
    schema = hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW")
    table = hub.tables.table(schema)
    query = select(table).order_by(table.c._id)
    if current_only:
        query = query.where(table.c._superseded_at.is_(None), table.c._deleted.is_(False))
    with hub.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def test_accepts_and_stores_exactly_what_was_sent(client, hub, token_for):
    response = client.post("/data", content=simple_message(), headers=auth(token_for("KAZ"), SS_21))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "accepted" and body["code"] == 200
    assert body["datasets"][0]["inserted"] == 5 and body["datasets"][0]["action"] == "Merge"
    assert body["message"].startswith("accepted: 5 observations stored")
    rows = stored(hub)
    assert [(r["time_period"], r["obs_value"]) for r in rows] == [(str(y), 100 + i) for i, y in
                                                                   enumerate(range(2015, 2020))]
    assert {r["ref_area"] for r in rows} == {"KAZ"} and {r["_provider"] for r in rows} == {"KAZ"}
    assert {r["_submission"] for r in rows} == {body["submission"]}
    assert rows[0]["obs_status"] == "A" and rows[0]["unit_mult"] == "0"
    assert rows[0]["_period_start"] == "2015-01-01" and rows[0]["_period_end"] == "2015-12-31"


def test_repush_of_same_bytes_is_idempotent(client, hub, token_for):
    headers = auth(token_for("KAZ"), SS_21)
    first = client.post("/data", content=simple_message(), headers=headers)
    second = client.post("/data", content=simple_message(), headers=headers)
    assert second.status_code == 200 and second.json() == first.json()
    assert second.headers.get("X-Exchange-Replay") == "true"
    assert len(stored(hub, current_only=False)) == 5


def test_merge_keeps_history_and_counts(client, hub, token_for):
    headers = auth(token_for("KAZ"), SS_21)
    client.post("/data", content=simple_message(base=100), headers=headers)
    changed = ss_message([Series(key(), [obs("2015", "100"), obs("2016", "999"), obs("2020", "7")])])
    body = client.post("/data", content=changed, headers=headers).json()
    counts = body["datasets"][0]
    assert (counts["inserted"], counts["replaced"], counts["unchanged"], counts["deleted"]) == (1, 1, 1, 0)
    current = {r["time_period"]: r["obs_value"] for r in stored(hub)}
    assert current["2016"] == 999 and current["2020"] == 7 and current["2017"] == 102
    history = [r for r in stored(hub, current_only=False) if r["time_period"] == "2016"]
    assert [r["obs_value"] for r in history] == [101, 999]
    assert history[0]["_superseded_by"] == body["submission"] and history[1]["_superseded_at"] is None


def test_merge_keeps_omitted_attributes_replace_drops_them(client, hub, token_for):
    headers = auth(token_for("KAZ"), SS_21)
    client.post("/data", content=ss_message([Series(key(), [obs("2019", "5", CONF_STATUS="F")])]), headers=headers)
    client.post("/data", content=ss_message([Series(key(), [obs("2019", "6")])]), headers=headers)
    assert stored(hub)[0]["conf_status"] == "F"
    client.post("/data", content=ss_message([Series(key(), [obs("2019", "7")])], action="Replace"), headers=headers)
    row = stored(hub)[0]
    assert row["obs_value"] == 7 and row["conf_status"] is None


def test_delete_actions_observation_series_and_wildcard(client, hub, token_for):
    headers = auth(token_for("KAZ"), SS_21)
    client.post("/data", content=simple_message(partners=("RUS", "UZB", "KGZ")), headers=headers)
    # Delete names only the key: SDMX-ML 2.1 deletes the whole observation (attributes given would be
    # "delete only these attribute values").
    one = ss_message([Series(dims(), [{"TIME_PERIOD": "2015"}])], action="Delete")
    body = client.post("/data", content=one, headers=headers).json()
    assert body["datasets"][0]["deleted"] == 1
    whole_series = ss_message([Series(dims(COUNTERPART_AREA="UZB"), [])], action="Delete")
    assert client.post("/data", content=whole_series, headers=headers).json()["datasets"][0]["deleted"] == 5
    wildcard = csv20(["dataflow,UNECE:MIGR_FLOW(1.0),D,A,KAZ,EMI,_T,KGZ,_T,_T,_T,_T,PS,,,,"])
    assert client.post("/data", content=wildcard, headers=auth(token_for("KAZ"), CSV_20)).json()[
        "datasets"][0]["deleted"] == 5
    assert {(r["counterpart_area"], r["time_period"]) for r in stored(hub)} == {("RUS", str(y)) for y in
                                                                              range(2016, 2020)}
    tombstones = [r for r in stored(hub, current_only=False) if r["_deleted"]]
    assert len(tombstones) == 11 and all(r["_superseded_at"] is None for r in tombstones)


def test_delete_with_attribute_deletes_only_that_value(client, hub, token_for):
    headers = auth(token_for("KAZ"), SS_21)
    client.post("/data", content=ss_message([Series(key(), [obs("2019", "5", CONF_STATUS="F")])]), headers=headers)
    message = ss_message([Series(dims(), [{"TIME_PERIOD": "2019", "CONF_STATUS": "F"}])], action="Delete")
    assert client.post("/data", content=message, headers=headers).status_code == 200
    (row,) = stored(hub)
    assert row["obs_value"] == 5 and row["conf_status"] is None and row["obs_status"] == "A"


def test_delete_of_missing_data_is_a_warning(client, token_for):
    body = client.post("/data", content=ss_message([Series(dims(), [{"TIME_PERIOD": "1999"}])], action="Delete"),
                       headers=auth(token_for("KAZ"), SS_21)).json()
    assert body["code"] == 200 and body["issues"]["warnings"] == 1
    assert body["issues"]["first"][0]["code"] == "DELETE_NOT_FOUND"


def test_delete_then_merge_in_one_message_order_matters(client, hub, token_for):
    headers = auth(token_for("KAZ"), CSV_20)
    client.post("/data", content=csv20([csv_row("I", "2019", "5")]), headers=headers)
    body = client.post("/data", content=csv20([csv_row("D", "2019", ""), csv_row("M", "2019", "8")]),
                       headers=headers).json()
    assert [d["action"] for d in body["datasets"]] == ["Delete", "Merge"]
    assert [r["obs_value"] for r in stored(hub)] == [8]


def test_rejected_message_stores_nothing_and_report_is_kept(client, hub, token_for):
    bad = ss_message([Series(key(), [obs("2019", "5"), obs("2020", "abc"), obs("2021-Q1", "1")])])
    kaz = token_for("KAZ")
    response = client.post("/data", content=bad, headers=auth(kaz, SS_21))
    assert response.status_code == 422
    body = response.json()
    assert {c["code"] for c in body["issues"]["by_code"]} == {"NON_NUMERIC", "PERIOD_FREQ_MISMATCH"}
    assert stored(hub, current_only=False) == []
    report = client.get(f"/submissions/{body['submission']}", headers=auth(kaz, None)).json()
    assert report["status"] == "rejected" and report["issue_page"]["total"] == 2
    issue = report["issue_page"]["items"][0]
    assert issue["code"] == "NON_NUMERIC" and issue["value"] == "abc" and issue["period"] == "2020"
    assert issue["series_key"] == "A.KAZ.EMI._T.RUS._T._T._T._T.PS" and "obs 2" in issue["location"]


def test_report_lists_every_issue_paged_and_downloadable(client, token_for):
    rows = [csv_row("I", str(y), "x") for y in range(1000, 3500)]
    kaz = token_for("KAZ")
    body = client.post("/data", content=csv20(rows), headers=auth(kaz, CSV_20)).json()
    assert body["issues"]["errors"] == 2500 and len(body["issues"]["first"]) == 100
    page = client.get(f"/submissions/{body['submission']}?offset=2000&limit=1000",
                      headers=auth(kaz, None)).json()["issue_page"]
    assert page["total"] == 2500 and len(page["items"]) == 500 and "next" not in page
    download = client.get(f"/submissions/{body['submission']}/issues", headers=auth(kaz, None))
    assert download.status_code == 200 and len(download.text.strip().splitlines()) == 2501


def test_gzip_body(client, hub, token_for):
    headers = {**auth(token_for("KAZ"), SS_21), "Content-Encoding": "gzip"}
    response = client.post("/data", content=gzip.compress(simple_message()), headers=headers)
    assert response.status_code == 200 and len(stored(hub)) == 5


def test_auth(client, token_for, hub):
    assert client.post("/data", content=simple_message()).status_code == 401
    assert client.post("/data", content=simple_message(), headers=auth("exh_nope")).status_code == 401
    token = token_for("KAZ")
    from exchange.auth import revoke_token

    with hub.engine.execution_options(write=True).begin() as conn:
        assert revoke_token(conn, token) == 1
    assert client.post("/data", content=simple_message(), headers=auth(token)).status_code == 403


def test_provider_may_only_push_its_own_country_admin_anything(client, token_for, admin_token):
    response = client.post("/data", content=simple_message("UZB"), headers=auth(token_for("KAZ"), SS_21))
    assert response.status_code == 422
    issue = response.json()["issues"]["first"][0]
    assert issue["code"] == "PROVIDER_NOT_ALLOWED" and issue["series_key"].startswith("A.UZB.")
    assert client.post("/data", content=simple_message("UZB"), headers=auth(admin_token, SS_21)).status_code == 200


def test_unknown_dataflow_is_404(client, token_for):
    message = ss_message([Series(key(), [obs("2019", "1")])], flow="NOPE")
    response = client.post("/data", content=message, headers=auth(token_for("KAZ"), SS_21))
    assert response.status_code == 404
    assert response.json()["issues"]["first"][0]["code"] == "UNKNOWN_STRUCTURE"


def test_status_codes_for_unreadable_input(client, token_for):
    headers = auth(token_for("KAZ"), SS_21)
    assert client.post("/data", content=simple_message()[:-40], headers=headers).status_code == 400
    assert client.post("/data", content=b"%PDF-1.4 binary", headers=auth(token_for("KAZ"),
                                                                          "application/pdf")).status_code == 415
    response = client.post("/data", content=b"\x00\x01\x02garbage", headers=auth(token_for("KAZ"), None))
    assert response.status_code in (400, 415) and response.json()["status"] == "rejected"


def test_upload_cap_is_413(settings, hub, token_for):
    from fastapi.testclient import TestClient

    from exchange.app import create_app

    hub.settings = settings.model_copy(update={"max_upload_bytes": 1000})
    with TestClient(create_app(hub.settings, hub)) as small:
        response = small.post("/data", content=simple_message(), headers=auth(token_for("KAZ"), SS_21))
        assert response.status_code == 413 and "larger than" in response.json()["message"]
        bomb = gzip.compress(b" " * 100_000 + simple_message())
        assert small.post("/data", content=bomb, headers=auth(token_for("KAZ"), SS_21)).status_code == 413


def test_unknown_submission_is_404(client, admin_token):
    assert client.get("/submissions/nope", headers=auth(admin_token, None)).status_code == 404


def test_submission_count(client, hub, token_for):
    from exchange.store.tables import submission

    client.post("/data", content=simple_message(), headers=auth(token_for("KAZ"), SS_21))
    client.post("/data", content=b"<broken", headers=auth(token_for("KAZ"), SS_21))
    with hub.engine.connect() as conn:
        statuses = conn.execute(select(submission.c.status, func.count()).group_by(submission.c.status)).all()
    assert dict(statuses) == {"accepted": 1, "rejected": 1}


def test_action_from_the_message_header(client, hub, token_for):
    headers = auth(token_for("KAZ"), SS_21)
    client.post("/data", content=simple_message(), headers=headers)
    message = ss_message([Series(dims(), [{"TIME_PERIOD": "2016"}])], action="Delete")
    message = message.replace(b' action="Delete"', b"").replace(
        b"</mes:Structure>", b"</mes:Structure><mes:DataSetAction>Delete</mes:DataSetAction>", 1)
    body = client.post("/data", content=message, headers=headers).json()
    assert body["datasets"][0]["action"] == "Delete" and body["datasets"][0]["deleted"] == 1


@pytest.mark.skipif(not ON_POSTGRES, reason="planner statistics are refreshed on PostgreSQL only")
def test_a_large_push_refreshes_planner_statistics(client, hub, token_for, monkeypatch):
    monkeypatch.setattr("exchange.ingest.ANALYZE_AFTER_OBSERVATIONS", 3)
    small = ss_message([Series(key(COUNTERPART_AREA="UZB"), [obs("2019", "1")])])
    assert client.post("/data", content=small, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    table = hub.tables.table(hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW")).name

    def analysed() -> bool:  # reltuples is -1 until the table is first analysed (PostgreSQL 14+)
        with hub.engine.connect() as conn:
            return conn.execute(text("SELECT reltuples >= 0 FROM pg_class WHERE oid = to_regclass(:name)"),
                                {"name": table}).scalar_one()

    assert not analysed()  # one observation: below the threshold
    large = ss_message([Series(key(), [obs(str(y), "5") for y in range(2015, 2020)])])
    assert client.post("/data", content=large, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    assert analysed()
