"""Values that would poison what the hub serves are refused with a located issue, in every input format.

Issue #9: `inf`, `-Infinity`, `1e400` were stored as infinities (and nulled every correction factor),
`nan` was stored silently as an empty value, and control characters came back raw in SDMX-ML answers
(no longer well-formed XML) or made PostgreSQL answer 500 to a NUL.
"""

from __future__ import annotations

import json

import pytest
from lxml import etree

from exchange.messages import Series
from tests.helpers import CSV_20, FLOW_KEY, SS_21, key, obs, ss_message

JSON_20 = "application/vnd.sdmx.data+json;version=2.0.0"
HEADER = f"STRUCTURE,STRUCTURE_ID,ACTION,{','.join(FLOW_KEY)},TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT,COMMENT_OBS"


def csv_message(value: str = "5", comment: str = "", **overrides: str) -> bytes:
    dims = ",".join({**FLOW_KEY, **overrides}.values())
    return f"{HEADER}\r\ndataflow,UNECE:MIGR_FLOW(1.0),M,{dims},2012,{value},A,0,{comment}\r\n".encode()


def json_message(value: object = 5, comment: str | None = None) -> bytes:
    """SDMX-JSON 2.0 with one observation (value, OBS_STATUS, UNIT_MULT and optionally COMMENT_OBS)."""
    attributes = [{"id": "OBS_STATUS", "values": [{"id": "A"}]}]
    observation: list[object] = [value, 0]
    if comment is not None:
        attributes.append({"id": "COMMENT_OBS", "values": [{"value": comment}]})
        observation.append(0)
    structure = {
        "links": [{"rel": "dataflow", "urn": "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=UNECE:MIGR_FLOW(1.0)"}],
        "dimensions": {
            "series": [{"id": d, "keyPosition": i, "values": [{"id": v}]} for i, (d, v) in enumerate(FLOW_KEY.items())],
            "observation": [{"id": "TIME_PERIOD", "values": [{"id": "2012"}]}],
        },
        "attributes": {"series": [{"id": "UNIT_MULT", "values": [{"id": "0"}]}], "observation": attributes},
        "measures": {"observation": [{"id": "OBS_VALUE"}]},
    }
    dataset = {"action": "Merge", "structure": 0,
               "series": {":".join("0" for _ in FLOW_KEY): {"attributes": [0],
                                                             "observations": {"0": observation}}}}
    # json.dumps writes inf/nan as Infinity/NaN, which Python's (and many agencies') JSON readers accept.
    return json.dumps({"data": {"structures": [structure], "dataSets": [dataset]}}).encode()


def push(live, body: bytes, content_type: str):
    with live.client(live.token("KAZ")) as kaz:
        return kaz.post("/data", content=body, headers={"Content-Type": content_type})


def codes(response) -> list[str]:
    return [c["code"] for c in response.json()["issues"]["by_code"]]


NON_FINITE = ["inf", "-Infinity", "1e400", "nan", "NaN", "+inf"]


@pytest.mark.parametrize("text", NON_FINITE)
def test_non_finite_numbers_are_non_numeric_in_csv_and_xml(live, text):
    for body, content_type in ((csv_message(text), CSV_20),
                               (ss_message([Series(key(), [obs("2012", text)])]), SS_21)):
        response = push(live, body, content_type)
        assert response.status_code == 422, response.text
        assert codes(response) == ["NON_NUMERIC"]
        assert response.json()["issues"]["first"][0]["value"] == text


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), "1e400", "Infinity"])
def test_non_finite_numbers_are_non_numeric_in_json(live, value):
    response = push(live, json_message(value), JSON_20)
    assert response.status_code == 422, response.text
    assert codes(response) == ["NON_NUMERIC"]


def test_finite_numbers_still_pass(live):
    assert push(live, csv_message("1.5e3"), CSV_20).status_code == 200
    assert push(live, json_message(7), JSON_20).status_code == 200


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x0c", "\uffff"])
def test_characters_xml_cannot_carry_are_refused_with_a_located_issue(live, char):
    for body, content_type, where in ((csv_message(comment=f"bad{char}text"), CSV_20, "row 2"),
                                      (json_message(comment=f"bad{char}text"), JSON_20, "dataSets[0]")):
        response = push(live, body, content_type)
        assert response.status_code == 422, response.text
        assert codes(response) == ["INVALID_CHARACTER"]
        issue = response.json()["issues"]["first"][0]
        assert issue["component"] == "COMMENT_OBS" and issue["where"].startswith(where)
        assert issue["value"] == f"bad\\u{ord(char):04x}text" and f"U+{ord(char):04X}" in issue["message"]
    # Nothing was stored, so every SDMX-ML answer stays well-formed.
    answer = live.client().get("/data/MIGR_FLOW", headers={"Accept": SS_21})
    if answer.status_code == 200:
        etree.fromstring(answer.content)


def test_tab_and_line_breaks_are_allowed_in_text(live):
    response = push(live, csv_message(comment='"two\nlines\tand a tab"'), CSV_20)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("body", "code", "quoted"), [
    (csv_message(REF_AREA="KA\x00Z"), "UNKNOWN_CODE", "KA\\u0000Z"),
    (csv_message(comment="x").replace(b"COMMENT_OBS", b"COMMENT\x00OBS"), "UNKNOWN_COMPONENT", "COMMENT\\u0000OBS"),
    (csv_message().replace(b"UNECE:MIGR_FLOW(1.0)", b"UNECE:MIGR\x00FLOW(1.0)"), "MISSING_STRUCTURE", None),
    (csv_message(comment="\x00" * 5000), "VALUE_TOO_LONG", "\\u0000" * 200),
], ids=["in-a-code", "in-a-header", "in-the-structure", "long-run"])
def test_a_nul_anywhere_is_a_4xx_and_the_report_is_readable(live, body, code, quoted):
    """On PostgreSQL a NUL in a stored issue text was a 500; issue texts now quote it as \\u0000."""
    response = push(live, body, CSV_20)
    assert response.status_code == 422, response.text
    assert code in codes(response) and "\x00" not in response.text
    if quoted:
        issue = next(i for i in response.json()["issues"]["first"] if i["code"] == code)
        assert (issue["value"] or "").startswith(quoted) or issue["component"] == quoted
    with live.client(live.token(None)) as admin:
        report = admin.get(f"/submissions/{response.json()['submission']}/issues", params={"format": "jsonl"})
    assert report.status_code == 200 and "\x00" not in report.text and code in report.text
