"""What was pushed comes back exactly, in every output format: numbers to the last bit, free text with every
character that XML, CSV or JSON treat specially, and one series per key whatever the observation dimension.

The renderers build text from series blocks (``render.blocks``) and the store writes numbers as text in
SQL (``store.read._number_text``); these tests pin both to ``render.number`` and to the standard parsers.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from lxml import etree

from exchange.api import sdmx as sdmx_api
from exchange.body import Body
from exchange.ingest import Principal
from exchange.messages import Series
from exchange.render import number
from tests.conftest import auth
from tests.helpers import SS_21, key, obs, ss_message

#: values that a 15-digit or integer-only text would change, and integers at the edges of the fast path
VALUES = ["0.1", "0.3333333333333333", "1e-05", "123456.5", "1500000000000000.5", "-42", "2.5e+20", "0",
          "999999999999999", "1000000000000000", "-7.25"]
PERIODS = [str(year) for year in range(2000, 2000 + len(VALUES))]
COMMENT = 'a & b < c > d "quoted", with a comma; \'single\' {braces} and a\nsecond line'
SERIES_COMMENT = 'series & <notes>, "all" {of} them'

XML_FORMATS = {
    "ss21": "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
    "ss21ts": "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1",
    "generic": "application/vnd.sdmx.genericdata+xml;version=2.1",
    "generic_ts": "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1",
    "ss30": "application/vnd.sdmx.data+xml;version=3.0.0",
}


@pytest.fixture
def exact(client, token_for):
    observations = [obs(period, value, COMMENT_OBS=COMMENT, PRE_BREAK_VALUE=value)
                    for period, value in zip(PERIODS, VALUES, strict=True)]
    message = ss_message([Series(key(COMMENT_TS=SERIES_COMMENT), observations)])
    response = client.post("/data", content=message, headers=auth(token_for("KAZ"), SS_21))
    assert response.status_code == 200, response.text
    return client


def expected() -> dict[str, str]:
    return {period: number(float(value)) for period, value in zip(PERIODS, VALUES, strict=True)}


def _xml_observations(data: bytes, generic: bool) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
    """{period: {component: text}} and the series' own values, read with lxml (no hub code)."""
    root = etree.fromstring(data)
    found: dict[str, dict[str, str]] = {}
    series_values = []
    for series in root.iter("{*}Series", "Series"):
        if generic:
            series_values.append({v.get("id"): v.get("value") for v in series.iterfind("{*}Attributes/{*}Value")})
            for o in series.iterfind("{*}Obs"):
                values = {v.get("id"): v.get("value") for v in o.iterfind("{*}Attributes/{*}Value")}
                values["OBS_VALUE"] = o.find("{*}ObsValue").get("value")
                found[o.find("{*}ObsDimension").get("value")] = values
        else:
            series_values.append(dict(series.attrib))
            for o in series.iterfind("Obs"):
                found[o.get("TIME_PERIOD")] = dict(o.attrib)
    return found, series_values


@pytest.mark.parametrize("name", list(XML_FORMATS))
def test_xml_outputs_carry_exact_numbers_and_free_text(exact, name):
    response = exact.get("/data/MIGR_FLOW", headers={"Accept": XML_FORMATS[name]})
    assert response.status_code == 200, response.text
    found, series_values = _xml_observations(response.content, generic=name.startswith("generic"))
    assert {p: v["OBS_VALUE"] for p, v in found.items()} == expected()
    assert {p: v["PRE_BREAK_VALUE"] for p, v in found.items()} == expected()
    assert {v["COMMENT_OBS"] for v in found.values()} == {COMMENT}
    assert [v["COMMENT_TS"] for v in series_values] == [SERIES_COMMENT]
    assert list(found) == PERIODS  # period order


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_csv_outputs_carry_exact_numbers_and_free_text(exact, version):
    response = exact.get("/data/MIGR_FLOW", headers={"Accept": f"application/vnd.sdmx.data+csv;version={version}"})
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert {r["TIME_PERIOD"]: r["OBS_VALUE"] for r in rows} == expected()
    assert {r["TIME_PERIOD"]: r["PRE_BREAK_VALUE"] for r in rows} == expected()
    assert {r["COMMENT_OBS"] for r in rows} == {COMMENT} and {r["COMMENT_TS"] for r in rows} == {SERIES_COMMENT}
    assert [r["TIME_PERIOD"] for r in rows] == PERIODS


def test_csv_labels_quote_names(exact):
    rows = list(csv.DictReader(io.StringIO(exact.get("/data/MIGR_FLOW?labels=both", headers={
        "Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}).text, newline="")))
    assert len(rows) == len(VALUES)
    assert all(next(v for k, v in r.items() if k.startswith("COMMENT_OBS")) == COMMENT for r in rows)
    assert all(next(v for k, v in r.items() if k.startswith("COMMENT_TS")) == SERIES_COMMENT for r in rows)
    assert all(next(v for k, v in r.items() if k.startswith("REF_AREA")) == "KAZ: Kazakhstan" for r in rows)


@pytest.mark.parametrize("version", ["1.0.0", "2.0.0"])
def test_json_outputs_carry_exact_numbers_and_free_text(exact, version):
    document = exact.get("/data/MIGR_FLOW", headers={
        "Accept": f"application/vnd.sdmx.data+json;version={version}"}).json()
    structure = document["data"]["structures"][0] if version == "2.0.0" else document["data"]["structure"]
    periods = [v.get("value", v.get("id")) for v in structure["dimensions"]["observation"][0]["values"]]
    obs_attributes = structure["attributes"]["observation"]
    [series] = document["data"]["dataSets"][0]["series"].values()
    values, comments, pre_break = {}, set(), {}
    for position, observation in series["observations"].items():
        period = periods[int(position)]
        values[period] = observation[0]
        for attribute, index in zip(obs_attributes, observation[1:], strict=True):
            if index is None:
                continue
            value = attribute["values"][index]
            text = value.get("value", value.get("name", value.get("id")))
            if attribute["id"] == "COMMENT_OBS":
                comments.add(text)
            if attribute["id"] == "PRE_BREAK_VALUE":
                pre_break[period] = text
    assert values == {p: float(v) for p, v in zip(PERIODS, VALUES, strict=True)}
    assert comments == {COMMENT}
    assert {p: number(float(v)) for p, v in pre_break.items()} == expected()


def test_observation_dimension_other_than_time_gives_one_series_per_key(client, token_for):
    # Pushed one partner at a time, so rows are stored partner by partner, period by period.
    for partner in ("UZB", "RUS", "KGZ"):
        message = ss_message([Series(key(COUNTERPART_AREA=partner), [obs("2018", "1"), obs("2019", "2")])])
        assert client.post("/data", content=message, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    response = client.get("/data/MIGR_FLOW?dimensionAtObservation=COUNTERPART_AREA",
                          headers={"Accept": XML_FORMATS["ss21"]})
    root = etree.fromstring(response.content)
    series = list(root.iter("Series"))
    assert [s.get("TIME_PERIOD") for s in series] == ["2018", "2019"]
    for s in series:
        assert [o.get("COUNTERPART_AREA") for o in s.iterfind("Obs")] == ["KGZ", "RUS", "UZB"]


def test_json_renders_numbers_as_json(exact):
    text = exact.get("/data/MIGR_FLOW", headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"}).text
    json.loads(text)  # valid JSON: no NaN, no bare text


def test_series_attribute_is_the_one_reported_with_the_latest_observation(client, token_for):
    # A country changed its duration criterion: 2018 was pushed with M12, 2019 later with M3, and an
    # older period (2017) last of all with M6. A message checks its own series attributes for conflicts;
    # across messages the answer shows the value reported with the series' latest period.
    for period, criterion in (("2018", "M12"), ("2019", "M3"), ("2017", "M6")):
        message = ss_message([Series(key(DUR_CRIT=criterion), [obs(period, "5")])])
        assert client.post("/data", content=message, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    root = etree.fromstring(client.get("/data/MIGR_FLOW", headers={"Accept": XML_FORMATS["ss21"]}).content)
    assert [s.get("DUR_CRIT") for s in root.iter("Series")] == ["M3"]
    rows = list(csv.DictReader(io.StringIO(client.get("/data/MIGR_FLOW", headers={
        "Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}).text, newline="")))
    assert [r["DUR_CRIT"] for r in rows] == ["M3", "M3", "M3"]
    document = client.get("/data/MIGR_FLOW", headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"}).json()
    structure = document["data"]["structures"][0]
    [attribute] = [a for a in structure["attributes"]["series"] if a["id"] == "DUR_CRIT"]
    position = structure["attributes"]["series"].index(attribute)
    [series] = document["data"]["dataSets"][0]["series"].values()
    assert attribute["values"][series["attributes"][position]]["id"] == "M3"


def test_json_index_and_series_are_read_from_one_snapshot(client, hub, token_for, monkeypatch):
    # SDMX-JSON reads each component's values, then the series. A push landing in between adds a partner
    # the index would lack; read in one transaction, the answer is the data as it stood before that push.
    first = ss_message([Series(key(COUNTERPART_AREA="RUS"), [obs("2019", "1")])])
    assert client.post("/data", content=first, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    real = sdmx_api.distinct_values

    def then_a_push(*args, **kwargs):
        values = real(*args, **kwargs)
        late = ss_message([Series(key(COUNTERPART_AREA="UZB"), [obs("2019", "2")])])
        outcome = hub.ingestor.submit(Body(io.BytesIO(late), "", len(late)), SS_21, Principal(None, "KAZ", False))
        assert outcome.status == 200
        return values

    monkeypatch.setattr(sdmx_api, "distinct_values", then_a_push)
    accept = {"Accept": "application/vnd.sdmx.data+json;version=2.0.0"}
    document = client.get("/data/MIGR_FLOW", headers=accept).json()
    assert len(document["data"]["dataSets"][0]["series"]) == 1  # UZB came after the snapshot
    monkeypatch.setattr(sdmx_api, "distinct_values", real)
    assert len(client.get("/data/MIGR_FLOW", headers=accept).json()["data"]["dataSets"][0]["series"]) == 2
