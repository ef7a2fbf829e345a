"""Issue #15: /metrics in the Prometheus format and JSON request logs, read from real hub processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import SS_21, simple_message
from tests.live import LiveHub, fresh_database


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics answer by (name, sorted labels); parsing it proves the format too."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def request_lines(log: Path) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "exchange.request"]


@pytest.fixture(scope="module")
def json_hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("observed")
    with fresh_database(folder) as url:
        hub = LiveHub(url, env={"EXCHANGE_LOG_FORMAT": "json"}, log=folder / "hub.log").start()
        try:
            yield hub
        finally:
            hub.stop()


@pytest.fixture(scope="module")
def pushed(json_hub):
    """One accepted push (KAZ, 5 observations) and one rejected (KAZ sending Kyrgyzstan's data)."""
    token = json_hub.token("KAZ")
    with json_hub.client(token) as client:
        accepted = client.post("/data", content=simple_message("KAZ"), headers={
            "Content-Type": SS_21, "X-Request-ID": "push-1 <script>"})
        rejected = client.post("/data", content=simple_message("KGZ"), headers={"Content-Type": SS_21})
        report = client.get(f"/submissions/{accepted.json()['submission']}")
    assert accepted.status_code == 200 and rejected.status_code == 422 and report.status_code == 200
    return token, accepted, rejected


@pytest.mark.slow
def test_metrics_count_requests_by_route_template_pushes_by_rule_and_observations(json_hub, pushed):
    _token, accepted, _rejected = pushed
    with json_hub.client() as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    got = samples(answer.text)
    assert got[("exchange_http_requests_total", (("method", "POST"), ("route", "/data"), ("status", "200")))] == 1
    assert got[("exchange_http_requests_total", (("method", "POST"), ("route", "/data"), ("status", "422")))] == 1
    assert got[("exchange_http_requests_total", (("method", "GET"), ("route", "/submissions/{submission_id}"),
                                                 ("status", "200")))] == 1
    assert got[("exchange_http_request_duration_seconds_count", (("method", "POST"), ("route", "/data")))] == 2
    assert got[("exchange_pushes_total", (("outcome", "accepted"), ("rule", "")))] == 1
    assert got[("exchange_pushes_total", (("outcome", "rejected"), ("rule", "PROVIDER_NOT_ALLOWED")))] == 1
    written = accepted.json()["datasets"][0]["observations"]
    assert got[("exchange_observations_written_total", (("dsd", "UNECE:MIGR_FLOW(1.0)"),))] == written == 5
    assert ("exchange_db_connections_in_use", ()) in got


@pytest.mark.slow
def test_one_json_line_per_request_with_ids_and_never_a_token(json_hub, pushed):
    token, accepted, rejected = pushed
    assert accepted.headers["x-request-id"] == "push-1script"  # kept, reduced to safe characters
    assert len(rejected.headers["x-request-id"]) == 32  # made by the hub
    lines = request_lines(json_hub.log)
    push = next(line for line in lines if line["request_id"] == "push-1script")
    assert push["method"] == "POST" and push["route"] == "/data" and push["status"] == 200
    assert push["provider"] == "KAZ" and push["submission"] == accepted.json()["submission"]
    assert push["duration_ms"] > 0
    refused = next(line for line in lines if line["request_id"] == rejected.headers["x-request-id"])
    assert refused["status"] == 422 and refused["submission"] == rejected.json()["submission"]
    report = next(line for line in lines if line["route"] == "/submissions/{submission_id}")
    assert report["path"] == f"/submissions/{accepted.json()['submission']}" and "submission" not in report
    text = json_hub.log.read_text()
    assert token not in text and "Bearer" not in text and "authorization" not in text.lower()
    assert "<Obs" not in text and "OBS_VALUE" not in text  # no body either
    assert all(line.startswith("{") for line in text.splitlines() if line.strip()), "a line that is not JSON"


@pytest.mark.slow
def test_metrics_of_two_workers_are_summed(tmp_path):
    with fresh_database(tmp_path) as url:
        hub = LiveHub(url, log=tmp_path / "hub.log", args=["--workers", "2"]).start(timeout=240)
        try:
            for _ in range(6):
                with hub.client() as client:  # a new connection each time: either worker may answer
                    assert client.get("/ready").status_code == 200
            with hub.client() as client:
                got = samples(client.get("/metrics").text)
        finally:
            hub.stop()
    assert got[("exchange_http_requests_total", (("method", "GET"), ("route", "/ready"), ("status", "200")))] == 6
