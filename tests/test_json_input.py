"""SDMX-JSON input through real HTTP (a hub process per module, both stores): read as a stream, and every
malformed message answered 4xx with a located issue, never 500 (issue #9)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange.parse import sdmxjson
from tests.helpers import FLOW_KEY, csv20, csv_row

JSON_20 = "application/vnd.sdmx.data+json;version=2.0.0"
FLOW_URN = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=UNECE:MIGR_FLOW(1.0)"
SERIES_DIMS = list(FLOW_KEY)
PARTNERS = ("RUS", "UZB", "KGZ", "TJK", "DEU", "FRA", "ITA", "ESP", "POL", "TUR", "UKR", "BLR", "ARM", "AZE", "GEO",
            "CHN", "IND", "USA", "CAN", "GBR")


def message(observations: dict[str, list[tuple[str, Any]]], action: str = "Merge", urn: str = FLOW_URN,
            obs_status: str = "A") -> dict[str, Any]:
    """An SDMX-JSON 2.0 message for MIGR_FLOW: KAZ series keyed by COUNTERPART_AREA -> [(period, value)]."""
    partners = list(observations)
    periods = sorted({period for rows in observations.values() for period, _ in rows})
    values = {**{d: [FLOW_KEY[d]] for d in SERIES_DIMS}, "COUNTERPART_AREA": partners}
    structure = {
        "links": [{"rel": "dataflow", "urn": urn}],
        "dimensions": {"dataSet": [],
                       "series": [{"id": d, "values": [{"id": v} for v in values[d]]} for d in SERIES_DIMS],
                       "observation": [{"id": "TIME_PERIOD", "values": [{"value": p} for p in periods]}]},
        "measures": {"observation": [{"id": "OBS_VALUE"}]},
        "attributes": {"dataSet": [], "series": [{"id": "UNIT_MULT", "values": [{"id": "0"}]}],
                       "observation": [{"id": "OBS_STATUS", "values": [{"id": obs_status}]}]},
    }
    series = {}
    for i, partner in enumerate(partners):
        key = ":".join(str(i) if d == "COUNTERPART_AREA" else "0" for d in SERIES_DIMS)
        series[key] = {"attributes": [0], "observations": {str(periods.index(p)): [v, 0] for p, v in
                                                           observations[partner]}}
    return {"meta": {"id": "TEST"}, "data": {"structures": [structure],
                                             "dataSets": [{"structure": 0, "action": action, "series": series}]}}


def body(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def first_series(document: dict[str, Any]) -> dict[str, Any]:
    return next(iter(document["data"]["dataSets"][0]["series"].values()))


@pytest.fixture(scope="module")
def kaz(live) -> Iterator[httpx.Client]:
    with live.client(live.token("KAZ")) as client:
        yield client


def push(client: httpx.Client, content: bytes, content_type: str = JSON_20) -> httpx.Response:
    return client.post("/data", content=content, headers={"Content-Type": content_type})


def only_issue(response: httpx.Response) -> dict[str, Any]:
    issues = response.json()["issues"]["first"]
    assert len(issues) == 1, response.text
    return issues[0]


def stored_csv(client: httpx.Client) -> str:
    return client.get("/data/MIGR_FLOW/A.KAZ.EMI._T.RUS._T._T._T._T.PS", headers={"Accept": "text/csv"}).text


# --- a well-formed message in any member order -----------------------------------------------------------


def test_a_message_is_stored_whatever_the_order_of_its_members(kaz):
    """JSON members may come in any order (RFC 8259 section 4): structure after the data, the dataset's
    action after its series, a series' attributes after its observations."""
    document = message({"RUS": [("2015", 10), ("2016", 11)], "UZB": [("2015", 12)]})
    reordered = {"data": {"dataSets": document["data"]["dataSets"], "structures": document["data"]["structures"]},
                 "meta": document["meta"]}
    dataset = reordered["data"]["dataSets"][0]
    dataset["action"] = dataset.pop("action")
    for series in dataset["series"].values():
        series["attributes"] = series.pop("attributes")
    assert list(dataset) == ["structure", "series", "action"]
    response = push(kaz, body(reordered))
    assert response.status_code == 200, response.text
    assert response.json()["datasets"][0]["inserted"] == 3
    deleting = message({"RUS": [("2016", None)]}, action="Delete")
    deleting["data"]["dataSets"][0]["action"] = deleting["data"]["dataSets"][0].pop("action")  # after the series
    first_series(deleting).pop("attributes")
    first_series(deleting)["observations"] = {"0": []}  # no value given: the whole observation goes
    response = push(kaz, body(deleting))
    assert response.status_code == 200 and response.json()["datasets"][0]["deleted"] == 1, response.text
    assert ",2016," not in stored_csv(kaz) and ",2015,10," in stored_csv(kaz)


# --- malformed messages: 400 with what and where ---------------------------------------------------------


def _nested_observation() -> bytes:
    document = message({"RUS": [("2015", 1)]})
    first_series(document)["observations"]["0"] = "NEST"
    return body(document).replace(b'"NEST"', b"[" * 10_000 + b"]" * 10_000)


def _set(path: str, value: Any) -> bytes:
    document = message({"RUS": [("2015", 1)]})
    target: Any = document
    *parents, last = path.split("/")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return body(document)


def _series(update: dict[str, Any]) -> bytes:
    document = message({"RUS": [("2015", 1)]})
    first_series(document).update(update)
    return body(document)


MALFORMED = {
    "10,000 nested arrays in an observation": (_nested_observation(), "JSON_MALFORMED", "line 1, column"),
    "10,000 nested arrays in meta": (b'{"meta":' + b"[" * 10_000 + b"]" * 10_000 + b',"data":{"dataSets":[]}}',
                                     "JSON_MALFORMED", "line 1, column"),
    "a dataset that is a number": (b'{"data":{"dataSets":[1]}}', "JSON_SCHEMA_VIOLATION", "data.dataSets[0]"),
    "series given as a list": (_set("data/dataSets/0/series", [1]), "JSON_SCHEMA_VIOLATION", "series"),
    "observations given as a list": (_series({"observations": [[1, 0]]}), "JSON_SCHEMA_VIOLATION", "observations"),
    "an observation that is not an array": (_series({"observations": {"0": 5}}), "JSON_SCHEMA_VIOLATION",
                                            "observations[0]"),
    "dimensions given as a list": (_set("data/structures/0/dimensions", [1]), "JSON_SCHEMA_VIOLATION",
                                   "dimensions"),
    "a link URN a=b": (_set("data/structures/0/links", [{"rel": "dataflow", "urn": "a=b"}]),
                       "JSON_SCHEMA_VIOLATION", "links[0]"),
    "a series key index past the dimension's values": (
        body(message({"RUS": [("2015", 1)]})).replace(b'"0:0:0:0:0:', b'"0:0:0:0:7:'), "JSON_BAD_INDEX",
        "series[0:0:0:0:7:"),
    "an observation key past TIME_PERIOD's values": (_series({"observations": {"5": [1, 0]}}), "JSON_BAD_INDEX",
                                                     "observations[5]"),
    "an attribute index past its values": (_series({"observations": {"0": [1, 3]}}), "JSON_BAD_INDEX",
                                           "observations[0]"),
    "a negative index": (_series({"observations": {"-1": [1, 0]}}), "JSON_BAD_INDEX", "observations[-1]"),
    "a series key with too few positions": (
        body(message({"RUS": [("2015", 1)]})).replace(b'"0:0:0:0:0:0:0:0:0:0"', b'"0:0"'), "JSON_BAD_INDEX",
        "series[0:0]"),
    "a structure index past the structures": (_set("data/dataSets/0/structure", 3), "JSON_BAD_INDEX",
                                              "data.dataSets[0]"),
    "a lone surrogate in a value": (_series({"observations": {"0": ["SURROGATE", 0]}}).replace(b"SURROGATE",
                                                                                               b"\\ud800"),
                                    "JSON_MALFORMED", "observations[0]"),
    "a lone surrogate in a code": (_set("data/structures/0/attributes/observation/0/values", [{"id": "X"}]).replace(
        b'{"id": "X"}', b'{"id": "\\udc00A"}'), "JSON_MALFORMED", "values[0]"),
    "a NUL in a series key": (body(message({"RUS": [("2015", 1)]})).replace(b'"0:0:0:0:0:0:0:0:0:0"',
                                                                         b'"0:0:0:0:0:0:0:0:0:0\\u0000"'),
                              "JSON_BAD_INDEX", "series[0:0:0:0:0:0:0:0:0:0\\x00]"),
    "a control character in a component id": (_set("data/structures/0/measures/observation", [{"id": "OBS\u0001"}]),
                                              "JSON_SCHEMA_VIOLATION", "measures.observation[0]"),
    "a NUL in a link URN": (_set("data/structures/0/links", [{"rel": "dataflow", "urn": FLOW_URN + "\u0000"}]),
                            "JSON_SCHEMA_VIOLATION", "links[0]"),
    "a syntax error": (b'{"data": {"dataSets": [\n  {"series": {"0": {"observations": {"0": [1,]}}}}]}}',
                       "JSON_MALFORMED", "line 2, column"),
    "text after the message": (body(message({"RUS": [("2015", 1)]})) + b" {}", "JSON_MALFORMED", "column"),
    "a truncated message": (body(message({"RUS": [("2015", 1)]}))[:-20], "JSON_MALFORMED", "column"),
    "an empty body": (b"  ", "JSON_MALFORMED", "line 1"),
    "an integer of 5,000 digits in the structure": (_set("data/dataSets/0/structure", "BIG").replace(
        b'"BIG"', b"7" * 5000), "JSON_MALFORMED", "column"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_json_is_400_naming_what_and_where(kaz, case):
    content, code, where = MALFORMED[case]
    response = push(kaz, content)
    assert response.status_code == 400, response.text
    issue = only_issue(response)
    assert issue["code"] == code and where in issue["where"], issue
    assert issue["message"] and issue["fix"]
    assert all(c.isprintable() for c in issue["message"] + issue["where"]), issue  # what the sender wrote, escaped


def test_nested_arrays_as_the_whole_body_are_not_sdmx_data(kaz):
    response = push(kaz, b"[" * 10_000 + b"]" * 10_000)
    assert response.status_code == 415 and only_issue(response)["code"] == "NOT_SDMX_DATA", response.text


def test_a_fault_deep_in_a_large_message_is_located(kaz):
    """Past the first window of text the reader takes its fast path; a fault there is still named exactly."""
    document = message({p: [(str(y), 1) for y in range(1900, 2030)] for p in PARTNERS})
    # 1.5 million lines before the data and 2.5 million spaces inside the faulty line: both span reads
    text = json.dumps(document, indent=4).replace('"data": {', '"data":' + "\n" * 1_500_000 + "{", 1)
    assert len(text) > 1_500_000
    last = list(re.finditer(r'"0": \[\s*1,\s*0\s*\]', text))[-1]  # the last observation of the last series
    line = text[: last.start()].count("\n") + 1
    column = last.start() - text.rindex("\n", 0, last.start()) + len('"0": [1,') + 2_500_000  # the second ','
    broken = (text[: last.start()] + '"0": [1,' + " " * 2_500_000 + ',0]' + text[last.end():]).encode()
    issue = only_issue(push(kaz, broken))
    assert issue["code"] == "JSON_MALFORMED" and issue["where"] == f"line {line}, column {column}", issue
    wrong_index = (text[: last.start()] + '"0": [1, 9]' + text[last.end():]).encode()
    issue = only_issue(push(kaz, wrong_index))
    assert issue["code"] == "JSON_BAD_INDEX" and "OBS_STATUS" in issue["message"], issue


def test_a_single_value_too_long_to_read_whole_is_413(kaz):
    huge = body({"meta": {"note": "x" * (sdmxjson.MAX_VALUE_CHARS + 10)}, "data": {"dataSets": []}})
    response = push(kaz, huge)
    assert response.status_code == 413 and only_issue(response)["code"] == "TOO_LARGE", response.text


# --- values are passed on as written ----------------------------------------------------------------------

NON_FINITE = {"NaN": "NaN", "-Infinity": "-Infinity", "1e400": "1e400", '"inf"': "inf"}


@pytest.mark.parametrize("literal", list(NON_FINITE))
def test_non_finite_numbers_reach_the_validator_as_written(literal):
    """The parser never turns a value into a float: NaN, -Infinity, 1e400 and "inf" stay the text sent."""
    content = _series({"observations": {"0": ["VALUE", 0]}}).replace(b'"VALUE"', literal.encode())
    rows = list(sdmxjson.parse(io.BytesIO(content)))
    assert [r.values["OBS_VALUE"] for r in rows] == [NON_FINITE[literal]]


def refuses(live, code: str, value: str = "1", comment: str = "") -> bool:
    """Whether the hub's validator already refuses, through SDMX-CSV, ``value`` as OBS_VALUE or ``comment`` as
    COMMENT_OBS with ``code`` (the rules for non-finite numbers and XML characters are added apart)."""
    header = f"STRUCTURE,STRUCTURE_ID,ACTION,{','.join(FLOW_KEY)},TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT,COMMENT_OBS"
    content = csv20([csv_row(period="1999", value=value) + f",{comment}"], header=header)
    with live.client(live.token("KAZ")) as client:
        response = push(client, content, "application/vnd.sdmx.data+csv;version=2.0.0")
    return response.status_code == 422 and code in {i["code"] for i in response.json()["issues"]["first"]}


@pytest.mark.parametrize("literal", list(NON_FINITE))
def test_non_finite_numbers_are_refused_as_non_numeric(live, kaz, literal):
    if not refuses(live, "NON_NUMERIC", value="inf"):
        pytest.skip("the validator does not refuse non-finite numbers yet (validate.py, issue #9)")
    content = _series({"observations": {"0": ["VALUE", 0]}}).replace(b'"VALUE"', literal.encode())
    response = push(kaz, content)
    assert response.status_code == 422, response.text
    issue = only_issue(response)
    assert issue["code"] == "NON_NUMERIC" and issue["value"] == NON_FINITE[literal], issue


@pytest.mark.parametrize("char", ["\u0000", "\u0001", "\u001b"])
def test_characters_xml_cannot_carry_are_refused_not_stored(live, kaz, char):
    """NUL (which PostgreSQL cannot store), 0x01 and 0x1B reach the validator as text and are refused there."""
    if not refuses(live, "INVALID_CHARACTER", comment="a\x01b"):
        pytest.skip("the validator has no INVALID_CHARACTER rule yet (validate.py, issue #9)")
    document = message({"RUS": [("2014", 1)]})
    document["data"]["structures"][0]["attributes"]["observation"].append(
        {"id": "COMMENT_OBS", "values": [{"value": f"note{char}"}]})
    first_series(document)["observations"]["0"] = [1, 0, 0]
    response = push(kaz, body(document))
    assert response.status_code == 422, response.text
    assert "INVALID_CHARACTER" in {i["code"] for i in response.json()["issues"]["first"]}, response.text
    response = push(kaz, _series({"observations": {"0": [f"1{char}2", 0]}}))
    assert response.status_code == 422, response.text
    assert {"INVALID_CHARACTER", "NON_NUMERIC"} & {i["code"] for i in response.json()["issues"]["first"]}
    assert char not in stored_csv(kaz)


# --- memory: the body is never held whole -----------------------------------------------------------------


def large_body(path: Path, target_bytes: int) -> int:
    """An SDMX-JSON message of about ``target_bytes`` for a dataflow the hub does not hold (answered 404 once
    read through): thousands of series of 100 observations, written as text in pieces."""
    periods = [str(y) for y in range(1900, 2000)]
    structure = message({"RUS": [(p, 1) for p in periods]}, urn=FLOW_URN.replace("MIGR_FLOW", "NO_SUCH_FLOW"))
    for dimension in structure["data"]["structures"][0]["dimensions"]["series"][:2]:  # 40,000 series keys
        dimension["values"] = [{"id": f"V{i}"} for i in range(200)]
    head = json.dumps(structure)
    head = head[: head.index('"series": {') + len('"series": {')]
    observations = ",".join(f'"{i}":[{1000 + i},0]' for i in range(len(periods)))
    with path.open("w") as out:
        out.write(head)
        written, count = len(head), 0
        while written < target_bytes:
            key = f"{count % 200}:{count // 200 % 200}:0:0:0:0:0:0:0:0"
            piece = ("," if count else "") + f'"{key}":{{"attributes":[0],"observations":{{{observations}}}}}'
            out.write(piece)
            written, count = written + len(piece), count + 1
        out.write("}}]}}")
    return written


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/<pid>/status")


@pytest.mark.slow
def test_a_large_json_push_does_not_grow_the_server_with_the_body(tmp_path):
    """A 32 MB SDMX-JSON body raises the hub's peak resident memory by far less than the body: read whole
    (json.load) it took about 10x its size."""
    from tests.live import live_hub

    path = tmp_path / "large.json"
    size = large_body(path, 32 * 1024 * 1024)
    with live_hub(tmp_path) as hub, hub.client(hub.token("KAZ"), timeout=600) as client:
        assert push(client, body(message({"RUS": [("2015", 1)]}))).status_code == 200  # warm: every module loaded
        before = peak_rss_kib(hub.process.pid)
        with path.open("rb") as content:
            response = client.post("/data", content=content, headers={"Content-Type": JSON_20})
        after = peak_rss_kib(hub.process.pid)
    assert response.status_code == 404, response.text
    assert response.json()["observations"] > 100_000
    assert (after - before) * 1024 < size, (before, after, size)
