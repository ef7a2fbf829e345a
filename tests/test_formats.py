"""Every accepted input format, checked against an independent reader (sdmx1) and against each other."""

from __future__ import annotations

import io

import pytest
import sdmx
from lxml import etree
from sqlalchemy import select

from exchange.messages import Series
from exchange.parse import sdmxcsv, sdmxml
from tests.conftest import SPECIMENS, auth, specimen
from tests.helpers import CSV_20, FLOW_KEY, SS_21, key, obs, ss_message

ECB_DATA = ["data-generic-flat-ECB_EXR_NG.xml", "data-generictimeseries-ECB_EXR_NG.xml",
            "data-structurespecifictimeseries-ECB_EXR_NG.xml"]


def sdmx1_observations(path, dsd) -> dict[tuple, float]:
    message = sdmx.read_sdmx(path, structure=dsd)
    out = {}
    for dataset in message.data:
        for observation in dataset.obs:
            value = observation.value
            out[tuple(str(kv.value) for kv in observation.key.values.values())] = None if value is None else float(value)
    return out


def current_rows(hub, agency: str, dsd_id: str) -> list[dict]:
    schema = hub.catalog.dsd_schemas[(agency, dsd_id, "1.0")]
    table = hub.tables.table(schema)
    with hub.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).where(table.c._superseded_at.is_(None)))]


@pytest.mark.parametrize("name", ECB_DATA)
def test_official_ecb_samples_stored_as_sdmx1_reads_them(client, hub, admin_token, name):
    response = client.post("/structure", content=specimen("structure-ECB_EXR_NG-full.xml"), headers=auth(admin_token))
    assert response.status_code == 201, response.text
    response = client.post("/data", content=specimen(name), headers=auth(admin_token))
    assert response.status_code == 200, response.text
    dsd = sdmx.read_sdmx(SPECIMENS / "structure-ECB_EXR_NG-full.xml").structure["ECB_EXR_NG"]
    expected = sdmx1_observations(SPECIMENS / name, dsd)
    schema = hub.catalog.dsd_schemas[("ECB", "ECB_EXR_NG", "1.0")]
    rows = current_rows(hub, "ECB", "ECB_EXR_NG")
    got = {tuple(r[c.lower()] for c in schema.dimensions) + (expected_period(r),): r["obs_value"] for r in rows}
    assert got == expected
    assert {r["decimals"] for r in rows} >= {"4"} and {r["obs_status"] for r in rows} == {"A"}


def expected_period(row: dict) -> str:
    return row["time_period"]  # monthly 2010-08 is stored as 2010-08 (canonical form)


def test_demography_sample_with_measure_dimension_at_observation(client, hub, admin_token):
    for name in ("structure-SDMX-common-codelists.xml", "structure-ESTAT-DEMOGRAPHY.xml"):
        assert client.post("/structure", content=specimen(name), headers=auth(admin_token)).status_code == 201
    sample = specimen("data-structurespecific-xs-DEMOGRAPHY.xml")
    response = client.post("/data", content=sample, headers=auth(admin_token))
    # The official sample omits DECIMALS, which its own DSD declares Mandatory (attached to DEMO): the hub
    # says so, 60 times, and nothing else.
    assert response.status_code == 422
    assert response.json()["issues"]["by_code"] == [{
        "code": "MANDATORY_ATTRIBUTE_MISSING", "severity": "error", "count": 60,
        "fix": "Give a value for this mandatory attribute."}]
    patched = sample.replace(b"<Obs ", b'<Obs DECIMALS="2" ')
    response = client.post("/data", content=patched, headers=auth(admin_token))
    assert response.status_code == 200, response.text
    dsd = sdmx.read_sdmx(SPECIMENS / "structure-ESTAT-DEMOGRAPHY.xml").structure["DEMOGRAPHY"]
    expected = sdmx1_observations(SPECIMENS / "data-structurespecific-xs-DEMOGRAPHY.xml", dsd)
    schema = hub.catalog.dsd_schemas[("ESTAT", "DEMOGRAPHY", "1.0")]
    rows = current_rows(hub, "ESTAT", "DEMOGRAPHY")
    got = {tuple(r[c.lower()] for c in schema.key_components): r["obs_value"] for r in rows}
    by_sdmx1 = {tuple(dict(zip(("FREQ", "COUNTRY", "SEX", "TIME_PERIOD", "DEMO"), k, strict=True))[c]
                      for c in schema.key_components): v for k, v in expected.items()}
    assert len(got) == 60 and got == by_sdmx1


def test_pushed_structures_survive_a_restart(client, hub, admin_token, settings):
    from exchange.hub import open_hub

    client.post("/structure", content=specimen("structure-ECB_EXR_NG-full.xml"), headers=auth(admin_token))
    again = open_hub(settings)
    try:
        assert ("ECB", "ECB_EXR_NG", "1.0") in again.catalog.dsd_schemas
    finally:
        again.close()


def test_structure_push_needs_admin_and_resolvable_references(client, token_for, admin_token):
    data = specimen("structure-ESTAT-DEMOGRAPHY.xml")
    assert client.post("/structure", content=data, headers=auth(token_for("KAZ"))).status_code == 403
    # Without the SDMX common code lists (version 1.0) it refers to, the DSD cannot be resolved.
    response = client.post("/structure", content=data, headers=auth(admin_token))
    assert response.status_code == 409 and "SDMX:CL_OBS_STATUS(1.0)" in response.json()["message"]
    assert client.post("/structure", content=b"<nope/>", headers=auth(admin_token)).status_code == 400


# --- one dataset written in every format gives the same stored rows ------------------------

SERIES = [Series(key(COUNTERPART_AREA=p, DUR_CRIT="M12"), [obs(str(y), str(10 * i + y - 2000)) for y in (2018, 2019)])
          for i, p in enumerate(("RUS", "UZB"))]
GEN = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic"
MES = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
COM = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
SERIES_ATTRS = {"UNIT_MULT", "DUR_CRIT"}


def _header(root, dim_at_obs: str) -> None:
    header = etree.SubElement(root, f"{{{MES}}}Header")
    etree.SubElement(header, f"{{{MES}}}ID").text = "T"
    etree.SubElement(header, f"{{{MES}}}Test").text = "false"
    etree.SubElement(header, f"{{{MES}}}Prepared").text = "2026-01-01T00:00:00Z"
    etree.SubElement(header, f"{{{MES}}}Sender", id="KAZ")
    structure = etree.SubElement(header, f"{{{MES}}}Structure", structureID="S", dimensionAtObservation=dim_at_obs)
    usage = etree.SubElement(structure, f"{{{COM}}}StructureUsage")
    etree.SubElement(usage, "Ref", agencyID="UNECE", id="MIGR_FLOW", version="1.0")


def _values(parent, tag: str, pairs: dict) -> None:
    block = etree.SubElement(parent, f"{{{GEN}}}{tag}")
    for k, v in pairs.items():
        etree.SubElement(block, f"{{{GEN}}}Value", id=k, value=v)


def generic(flat: bool) -> bytes:
    root = etree.Element(f"{{{MES}}}GenericData" if flat else f"{{{MES}}}GenericTimeSeriesData",
                         nsmap={"mes": MES, "gen": GEN, "com": COM})
    _header(root, "AllDimensions" if flat else "TIME_PERIOD")
    dataset = etree.SubElement(root, f"{{{MES}}}DataSet", structureRef="S")
    for one in SERIES:
        dims = {k: v for k, v in one.key.items() if k not in SERIES_ATTRS}
        attrs = {k: v for k, v in one.key.items() if k in SERIES_ATTRS}
        parent = dataset
        if not flat:
            parent = etree.SubElement(dataset, f"{{{GEN}}}Series")
            _values(parent, "SeriesKey", dims)
            _values(parent, "Attributes", attrs)
        for o in one.observations:
            element = etree.SubElement(parent, f"{{{GEN}}}Obs")
            if flat:
                _values(element, "ObsKey", {**dims, "TIME_PERIOD": o["TIME_PERIOD"]})
            else:
                etree.SubElement(element, f"{{{GEN}}}ObsDimension", value=o["TIME_PERIOD"])
            etree.SubElement(element, f"{{{GEN}}}ObsValue", value=o["OBS_VALUE"])
            _values(element, "Attributes", {"OBS_STATUS": o["OBS_STATUS"], **(attrs if flat else {})})
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def ss_by_counterpart() -> bytes:
    """Structure-specific with dimensionAtObservation=COUNTERPART_AREA: series are per period."""
    text = ss_message([Series({**{k: v for k, v in SERIES[0].key.items() if k not in ("COUNTERPART_AREA",
                                                                                      *SERIES_ATTRS)},
                               "TIME_PERIOD": str(y)},
                              [{"COUNTERPART_AREA": s.key["COUNTERPART_AREA"], "OBS_VALUE": o["OBS_VALUE"],
                                "OBS_STATUS": "A", "UNIT_MULT": "0", "DUR_CRIT": "M12"}
                               for s in SERIES for o in s.observations if o["TIME_PERIOD"] == str(y)])
                       for y in (2018, 2019)])
    return text.replace(b'dimensionAtObservation="TIME_PERIOD"', b'dimensionAtObservation="COUNTERPART_AREA"')


def csv_message(version: str) -> bytes:
    comps = [*FLOW_KEY, "TIME_PERIOD", "OBS_VALUE", "OBS_STATUS", "UNIT_MULT", "DUR_CRIT"]
    lines = []
    for s in SERIES:
        for o in s.observations:
            values = [s.key[c] if c in s.key else o[c] for c in comps]
            lines.append(",".join(values))
    if version == "1.0":
        return ("\r\n".join(["DATAFLOW," + ",".join(comps)] + ["UNECE:MIGR_FLOW(1.0)," + v for v in lines])).encode()
    head = "STRUCTURE,STRUCTURE_ID,ACTION," + ",".join(reversed(comps))  # 2.x: components in any order
    body = ["dataflow,UNECE:MIGR_FLOW(1.0),I," + ",".join(reversed(v.split(","))) for v in lines]
    return ("\n".join([head, *body]) + "\n").encode()


FORMATS = {
    "structure-specific": (lambda: ss_message(SERIES), SS_21),
    "structure-specific, dimensionAtObservation=COUNTERPART_AREA": (ss_by_counterpart, SS_21),
    "generic time series": (lambda: generic(False), "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1"),
    "generic flat (AllDimensions)": (lambda: generic(True), "application/vnd.sdmx.genericdata+xml;version=2.1"),
    "SDMX-CSV 1.0": (lambda: csv_message("1.0"), "application/vnd.sdmx.data+csv;version=1.0.0"),
    "SDMX-CSV 2.0": (lambda: csv_message("2.0"), CSV_20),
    "sniffed, no content type": (lambda: ss_message(SERIES), None),
}


@pytest.mark.parametrize("name", FORMATS)
def test_every_input_format_stores_the_same_rows(client, hub, token_for, name):
    build, content_type = FORMATS[name]
    response = client.post("/data", content=build(), headers=auth(token_for("KAZ"), content_type))
    assert response.status_code == 200, response.text
    rows = current_rows(hub, "UNECE", "MIGR_FLOW")
    got = sorted((r["counterpart_area"], r["time_period"], r["obs_value"], r["dur_crit"], r["unit_mult"],
                  r["obs_status"]) for r in rows)
    assert got == [("RUS", "2018", 18.0, "M12", "0", "A"), ("RUS", "2019", 19.0, "M12", "0", "A"),
                   ("UZB", "2018", 28.0, "M12", "0", "A"), ("UZB", "2019", 29.0, "M12", "0", "A")]


# --- the parsers on their own ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["data-1.0-example-01.csv", "data-2.0.0-example-01.csv",
                                  "data-2.0.0-example-10.csv", "data-2.0.0-example-13.csv",
                                  "data-2.0.0-example-18.csv", "data-2.1.0-example-01.csv"])
def test_official_sdmx_csv_examples_parse(name):
    rows = list(sdmxcsv.parse(io.BytesIO(specimen(name))))
    assert rows and all(r.dataset.structure is not None for r in rows)
    assert rows[0].dataset.structure.id in ("NA_MAIN", "DF_ID")
    if name.endswith("10.csv"):
        assert [r.dataset.action.value for r in rows] == ["Merge", "Replace"]
    if name.endswith("18.csv"):
        assert rows[0].values == {"DIM_2": "A"} and rows[0].dataset.action.value == "Delete"
    if name.startswith("data-1.0"):
        assert rows[0].values["ATTR_3"] == "Normal, special and other values"


def test_csv_semicolon_separator_and_labels():
    text = "DATAFLOW;FREQ: Frequency;TIME_PERIOD;OBS_VALUE\nUNECE:MIGR_FLOW(1.0);A: Annual;2019;5\n"
    (row,) = sdmxcsv.parse(io.BytesIO(text.encode()))
    assert row.values == {"FREQ": "A", "TIME_PERIOD": "2019", "OBS_VALUE": "5"}


def test_xml_memory_is_released_while_streaming():
    """Elements are cleared as they are read: the tree never holds more than one series."""
    big = ss_message([Series(key(COUNTERPART_AREA="RUS"), [obs(str(y), "1") for y in range(1000, 3000)])])
    count = 0
    for row in sdmxml.parse(io.BytesIO(big)):
        count += 1
    assert count == 2000


@pytest.mark.parametrize(("name", "count"), [("data-1.0-exr-cross-section.json", 4),
                                             ("data-2.0.0-exr-cross-section.json", 4),
                                             ("data-2.1.0-exr-time-series.json", None)])
def test_official_sdmx_json_samples_parse(name, count):
    from exchange.parse import sdmxjson

    rows = list(sdmxjson.parse(io.BytesIO(specimen(name))))
    assert rows and all(r.dataset.structure.id == "EXR" for r in rows)
    assert count is None or len(rows) == count
    first = rows[0]
    assert {"FREQ", "CURRENCY_DENOM"} <= set(first.dataset.values) | set(first.series)
    assert "OBS_VALUE" in first.values and "TIME_PERIOD" in {**first.series, **first.values}


def test_inconsistent_json_sample_is_named_precisely():
    from exchange.parse import sdmxjson
    from exchange.rows import MessageError

    # The official 2.0.0 "action delete" sample points at OBS_STATUS value 1; its structure lists one value.
    with pytest.raises(MessageError) as caught:
        list(sdmxjson.parse(io.BytesIO(specimen("data-2.0.0-exr-action-delete.json"))))
    assert caught.value.issue.code == "JSON_BAD_INDEX" and "OBS_STATUS" in caught.value.issue.message


def test_sdmx_json_round_trip(client, hub, token_for):
    message = ss_message(SERIES)
    assert client.post("/data", content=message, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    as_json = client.get("/data/dataflow/UNECE/MIGR_FLOW/1.0/*",
                         headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"})
    back = client.post("/data", content=as_json.content,
                       headers=auth(token_for("KAZ"), "application/vnd.sdmx.data+json;version=2.0.0"))
    assert back.status_code == 200, back.text
    assert back.json()["datasets"][0]["unchanged"] == 4


def test_structure_specific_round_trip_and_qualified_action(client, hub, token_for):
    """Structure-specific set attributes are qualified (ss:action): the hub's own output goes back in
    unchanged, and a qualified Delete deletes (it must never be read as a Merge)."""
    headers = auth(token_for("KAZ"), SS_21)
    assert client.post("/data", content=ss_message(SERIES), headers=headers).status_code == 200
    ours = client.get("/data/MIGR_FLOW", headers={"Accept": SS_21})
    back = client.post("/data", content=ours.content, headers=headers)
    assert back.status_code == 200 and back.json()["datasets"][0]["unchanged"] == 4, back.text
    document = etree.fromstring(ours.content)
    ss = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific}"
    dataset = document.find("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}DataSet")
    assert dataset.get(f"{ss}action") == "Replace"
    dataset.set(f"{ss}action", "Delete")
    for series in dataset[1:]:
        dataset.remove(series)  # delete the first series only
    for attribute in SERIES_ATTRS:  # values given in a Delete name what to delete: keys only, to delete observations
        dataset[0].attrib.pop(attribute, None)
    for o in dataset[0]:
        o.attrib.pop("OBS_VALUE"), o.attrib.pop("OBS_STATUS", None)
    deleted = client.post("/data", content=etree.tostring(document), headers=headers)
    assert deleted.status_code == 200 and deleted.json()["datasets"][0]["deleted"] == len(dataset[0]), deleted.text
    remaining = client.get("/data/MIGR_FLOW", headers={"Accept": "text/csv"}).text.strip().splitlines()
    assert len(remaining) == 1 + 4 - len(dataset[0])
