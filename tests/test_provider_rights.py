"""A provider's pushes reach only its own country's observations, in every format and with every action.

Issue #9: a Delete that left REF_AREA out was a wildcard over every country. Each attack below is sent
by a KAZ token to a real hub process over HTTP, after an administrator stored KGZ, UZB and KAZ rows;
afterwards every other country's rows must be exactly as they were.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import specimen
from tests.helpers import CSV_20, FLOW_KEY, SS_21

COUNTRIES = ("KAZ", "KGZ", "UZB")
YEARS = ("2010", "2011")
DIMS = ",".join(FLOW_KEY)
HEADER = f"STRUCTURE,STRUCTURE_ID,ACTION,{DIMS},TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT"
JSON_20 = "application/vnd.sdmx.data+json;version=2.0.0"
NS = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=UNECE:MIGR_FLOW(1.0):ObsLevelDim:TIME_PERIOD"


def seed_csv() -> bytes:
    rows = [HEADER]
    for n, area in enumerate(COUNTRIES):
        for year in YEARS:
            values = ",".join({**FLOW_KEY, "REF_AREA": area}.values())
            rows.append(f"dataflow,UNECE:MIGR_FLOW(1.0),M,{values},{year},{100 + n},A,0")
    return ("\r\n".join(rows) + "\r\n").encode()


def current(live) -> dict[tuple[str, str], tuple[str, str]]:
    """(REF_AREA, TIME_PERIOD) -> (OBS_VALUE, OBS_STATUS) of every current observation."""
    text = live.client().get("/data/MIGR_FLOW", headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"})
    assert text.status_code in (200, 404), text.text
    if text.status_code == 404:
        return {}
    return {(r["REF_AREA"], r["TIME_PERIOD"]): (r["OBS_VALUE"], r["OBS_STATUS"])
            for r in csv.DictReader(io.StringIO(text.text))}


@pytest.fixture
def seeded(live):
    """The three countries' rows, restored before each attack by an administrator's Merge."""
    with live.client(live.token(None)) as admin:
        response = admin.post("/data", content=seed_csv(), headers={"Content-Type": CSV_20})
        assert response.status_code == 200, response.text
    before = current(live)
    assert len(before) == len(COUNTRIES) * len(YEARS) and all(v[0] and v[1] for v in before.values())
    return before


def others(rows: dict[tuple[str, str], tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    return {k: v for k, v in rows.items() if k[0] != "KAZ"}


def push(live, body: bytes, content_type: str):
    with live.client(live.token("KAZ")) as kaz:
        return kaz.post("/data", content=body, headers={"Content-Type": content_type})


def csv_body(header: str, *rows: str) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def ml_delete(series_attributes: str, extra_namespace: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<mes:StructureSpecificData xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
  xmlns:ss="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific"
  xmlns:ns1="{NS}"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" {extra_namespace}>
 <mes:Header><mes:ID>ATTACK</mes:ID><mes:Test>false</mes:Test><mes:Prepared>2026-12-02T00:00:00</mes:Prepared>
  <mes:Sender id="KAZ"/>
  <mes:Structure structureID="MIGR_FLOW" namespace="{NS}" dimensionAtObservation="TIME_PERIOD">
   <com:StructureUsage xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common">
    <Ref agencyID="UNECE" id="MIGR_FLOW" version="1.0"/></com:StructureUsage>
  </mes:Structure></mes:Header>
 <mes:DataSet ss:structureRef="MIGR_FLOW" xsi:type="ns1:DataSetType" ss:dataScope="DataStructure" action="Delete">
  <Series {series_attributes}><Obs TIME_PERIOD="2011"/></Series>
 </mes:DataSet>
</mes:StructureSpecificData>""".encode()


def json_delete(with_ref_area: str | None) -> bytes:
    """An SDMX-JSON 2.0 Delete of 2011 for the seeded key, with or without a REF_AREA dimension."""
    dims = [d for d in FLOW_KEY if with_ref_area is not None or d != "REF_AREA"]
    values = {**FLOW_KEY, "REF_AREA": with_ref_area or ""}
    structure = {
        "links": [{"rel": "dataflow", "urn": "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=UNECE:MIGR_FLOW(1.0)"}],
        "dimensions": {
            "series": [{"id": d, "keyPosition": i, "values": [{"id": values[d]}]} for i, d in enumerate(dims)],
            "observation": [{"id": "TIME_PERIOD", "values": [{"id": "2011"}]}],
        },
        "attributes": {"series": [], "observation": []},
        "measures": {"observation": [{"id": "OBS_VALUE"}]},
    }
    dataset = {"action": "Delete", "structure": 0,
               "series": {":".join("0" for _ in dims): {"observations": {"0": []}}}}
    return json.dumps({"meta": {"schema": "https://json.sdmx.org/2.0.0/sdmx-json-data-schema.json"},
                       "data": {"structures": [structure], "dataSets": [dataset]}}).encode()


WILDCARD_DELETES = {
    "csv-no-ref-area-column": (csv_body("STRUCTURE,STRUCTURE_ID,ACTION,TIME_PERIOD",
                                        "dataflow,UNECE:MIGR_FLOW(1.0),D,2010"), CSV_20),
    "csv-empty-ref-area-with-obs-status": (csv_body(
        "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,OBS_STATUS",
        "dataflow,UNECE:MIGR_FLOW(1.0),D,,2010,A"), CSV_20),
    "csv-empty-ref-area-with-obs-value": (csv_body(
        "STRUCTURE,STRUCTURE_ID,ACTION,REF_AREA,TIME_PERIOD,OBS_VALUE",
        "dataflow,UNECE:MIGR_FLOW(1.0),D,,2010,1"), CSV_20),
    "csv-whole-series-no-period": (csv_body("STRUCTURE,STRUCTURE_ID,ACTION,MIGR_FLOW",
                                            "dataflow,UNECE:MIGR_FLOW(1.0),D,EMI"), CSV_20),
    "sdmx-ml-series-without-ref-area": (ml_delete('MIGR_FLOW="EMI"'), SS_21),
    "sdmx-ml-namespaced-ref-area": (ml_delete('x:REF_AREA="KGZ" MIGR_FLOW="EMI"', 'xmlns:x="urn:x"'), SS_21),
    "sdmx-json-without-ref-area": (json_delete(None), JSON_20),
}


@pytest.mark.parametrize("name", WILDCARD_DELETES)
def test_a_provider_wildcard_delete_stays_within_its_country(live, seeded, name):
    body, content_type = WILDCARD_DELETES[name]
    response = push(live, body, content_type)
    assert response.status_code in (200, 422), response.text
    after = current(live)
    assert others(after) == others(seeded), f"{name} changed another country's observations"
    if response.status_code == 200:
        assert response.json()["datasets"][0]["deleted"] + response.json()["datasets"][0]["replaced"] >= 1
        assert after != seeded  # it did act, on KAZ's own rows


def test_a_wildcard_delete_deletes_the_providers_own_rows(live, seeded):
    body, content_type = WILDCARD_DELETES["csv-no-ref-area-column"]
    response = push(live, body, content_type)
    assert response.status_code == 200 and response.json()["datasets"][0]["deleted"] == 1, response.text
    assert set(seeded) - set(current(live)) == {("KAZ", "2010")}


def test_a_wildcard_value_delete_blanks_only_the_providers_values(live, seeded):
    body, content_type = WILDCARD_DELETES["csv-empty-ref-area-with-obs-value"]
    assert push(live, body, content_type).status_code == 200
    after = current(live)
    assert after[("KAZ", "2010")][0] == "" and others(after) == others(seeded)


@pytest.mark.parametrize("action", ["M", "R", "D"])
def test_every_action_on_another_country_is_refused(live, seeded, action):
    values = ",".join({**FLOW_KEY, "REF_AREA": "KGZ"}.values())
    response = push(live, csv_body(HEADER, f"dataflow,UNECE:MIGR_FLOW(1.0),{action},{values},2010,7,A,0"), CSV_20)
    assert response.status_code == 422, response.text
    assert [c["code"] for c in response.json()["issues"]["by_code"]] == ["PROVIDER_NOT_ALLOWED"]
    assert current(live) == seeded


@pytest.mark.parametrize("action", ["M", "R"])
def test_a_partial_key_merge_or_replace_is_refused(live, seeded, action):
    response = push(live, csv_body("STRUCTURE,STRUCTURE_ID,ACTION,TIME_PERIOD,OBS_VALUE",
                                   f"dataflow,UNECE:MIGR_FLOW(1.0),{action},2010,7"), CSV_20)
    assert response.status_code == 422 and current(live) == seeded


def test_series_and_json_deletes_naming_another_country_are_refused(live, seeded):
    ml = push(live, ml_delete('REF_AREA="KGZ" MIGR_FLOW="EMI"'), SS_21)
    js = push(live, json_delete("KGZ"), JSON_20)
    for response in (ml, js):
        assert response.status_code == 422, response.text
        assert "PROVIDER_NOT_ALLOWED" in [c["code"] for c in response.json()["issues"]["by_code"]]
    assert current(live) == seeded


def test_a_dsd_without_ref_area_takes_pushes_from_administrators_only(live):
    with live.client(live.token(None)) as admin:
        assert admin.post("/structure", content=specimen("structure-ECB_EXR_NG-full.xml"),
                          headers={"Content-Type": "application/xml"}).status_code == 201
    refused = push(live, specimen("data-structurespecifictimeseries-ECB_EXR_NG.xml"), "application/xml")
    assert refused.status_code == 422, refused.text
    assert [c["code"] for c in refused.json()["issues"]["by_code"]] == ["PROVIDER_NOT_ALLOWED"]
    with live.client(live.token(None)) as admin:
        accepted = admin.post("/data", content=specimen("data-structurespecifictimeseries-ECB_EXR_NG.xml"),
                              headers={"Content-Type": "application/xml"})
    assert accepted.status_code == 200, accepted.text
