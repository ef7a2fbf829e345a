"""An ordinary SDMX client (sdmx1's Client) pointed at a running hub reads structures and data unchanged."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import sdmx
from lxml import etree

from exchange.body import spool
from exchange.demo import messages_in_memory
from exchange.ingest import Principal
from tests.test_faults import free_port, start_server


def push_real_data(hub) -> None:
    """The real Eurostat flows, one message per reporting country, as that country."""
    for country, data in messages_in_memory():
        assert hub.ingestor.submit(spool([data], len(data) + 1), None, Principal(None, country, False)).status == 200


@pytest.mark.slow
def test_sdmx1_client_reads_structures_and_real_data(settings, hub):
    push_real_data(hub)
    port = free_port()
    server = start_server(settings.database_url, port)
    try:
        sdmx.add_source({"id": "EXCHANGE_TEST", "url": f"http://127.0.0.1:{port}", "name": "exchange hub"},
                        override=True)
        client = sdmx.Client("EXCHANGE_TEST")
        structures = client.dataflow("MIGR_FLOW", agency_id="UNECE", params={"references": "descendants"})
        dsd = structures.structure["MIGR_FLOW"]
        assert [d.id for d in dsd.dimensions][:3] == ["FREQ", "REF_AREA", "MIGR_FLOW"]
        assert "KAZ" in structures.codelist["CL_AREA"]
        message = client.data("MIGR_FLOW", key={"REF_AREA": "SWE", "MIGR_FLOW": "EMI", "COUNTERPART_AREA": "FIN"},
                              params={"startPeriod": "2015"}, dsd=dsd)
        series = sdmx.to_pandas(message)
        values = {key[-1]: value for key, value in series.items()}
        # Eurostat migr_emi3nxt, Sweden -> Finland (mirror-statistics.md 8.1): 2015-2019
        assert values == {"2015": 2487.0, "2016": 2608.0, "2017": 2965.0, "2018": 2896.0, "2019": 2858.0}
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_pysdmx_reads_every_format_from_a_running_hub(settings, hub):
    import httpx
    from pysdmx.io import get_datasets, read_sdmx

    push_real_data(hub)
    port = free_port()
    server = start_server(settings.database_url, port)
    base = f"http://127.0.0.1:{port}"
    key = "/data/MIGR_FLOW/A.SWE.EMI._T.FIN._T._T._T._T.PS"
    expected = {"2015": 2487.0, "2016": 2608.0, "2017": 2965.0, "2018": 2896.0, "2019": 2858.0}
    try:
        for accept in ("application/vnd.sdmx.data+csv;version=2.0.0", "application/vnd.sdmx.data+csv;version=1.0.0",
                       "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
                       "application/vnd.sdmx.genericdata+xml;version=2.1"):
            text = httpx.get(base + key, params={"startPeriod": "2015"}, headers={"Accept": accept}).text
            frame = read_sdmx(text).data[0].data
            assert {str(t): float(v) for t, v in zip(frame.TIME_PERIOD, frame.OBS_VALUE, strict=True)} == expected
        (dataset,) = get_datasets(base + key + "?startPeriod=2015",
                                  base + "/dataflow/UNECE/MIGR_FLOW/1.0?references=descendants")
        assert dict(zip(dataset.data.TIME_PERIOD.astype(str), dataset.data.OBS_VALUE.astype(float), strict=True)) \
            == expected
    finally:
        server.kill()
        server.wait()


# --- pandasdmx 1.10 and sdmxthon 2.6 (issue #11) --------------------------------------------------------

def register_agency_structures(client, token: str) -> None:
    """Structures as the ECB, Eurostat and SDMX write them (3.0 messages, partial schemes, URN references), and
    data for the dataflows among them."""
    from tests.conftest import auth, specimen
    from tests.test_real_structures import ecb_exr_30

    ecb_exr_30(client, token)
    for name in ("structure-SDMX-common-codelists.xml", "structure-ESTAT-DEMOGRAPHY.xml",
                 "structure-ECB_EXR_NG-full.xml"):
        assert client.post("/structure", content=specimen(name), headers=auth(token)).status_code == 201
    data = specimen("data-structurespecific-ECB_EXR.xml")
    assert client.post("/data", content=data, headers=auth(token)).status_code == 200


def registered_dsds(client) -> list[tuple[str, str, str]]:
    stubs = etree.fromstring(client.get("/datastructure/all/all/all?detail=allstubs").content)
    return [(e.get("agencyID"), e.get("id"), e.get("version")) for e in stubs.iter(f"{{{STR21}}}DataStructure")]


STR21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
#: The hub's own data, and the official ECB 3.0 sample, read back by each client.
EXPECTED_SWE_FIN = {"2015": 2487.0, "2016": 2608.0, "2017": 2965.0, "2018": 2896.0, "2019": 2858.0}


@pytest.mark.slow
def test_sdmxthon_reads_every_registered_structure_and_data(settings, hub, client, admin_token):
    import httpx
    import sdmxthon

    push_real_data(hub)
    register_agency_structures(client, admin_token)
    dsds = registered_dsds(client)
    assert {("ECB", "ECB_EXR", "1.0"), ("ECB", "ECB_EXR_NG", "1.0"), ("ESTAT", "DEMOGRAPHY", "1.0")} <= set(dsds)
    port = free_port()
    server = start_server(settings.database_url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        for agency, dsd_id, version in dsds:
            text = httpx.get(f"{base}/datastructure/{agency}/{dsd_id}/{version}?references=descendants").text
            if "<str:MeasureDimension" in text:
                continue  # sdmxthon 2.6 does not read SDMX 2.1 measure dimensions (Eurostat's DEMOGRAPHY sample)
            message = sdmxthon.read_sdmx(text)
            assert message.payload["errors"] == [] and f"{agency}:{dsd_id}({version})" in \
                message.payload["DataStructures"], (agency, dsd_id)
        flow = sdmxthon.read_sdmx(httpx.get(f"{base}/data/MIGR_FLOW/A.SWE.EMI._T.FIN._T._T._T._T.PS?startPeriod=2015",
                                            headers={"Accept": SS21}).text)
        frame = flow.payload["UNECE:MIGR_FLOW(1.0)"].data
        assert dict(zip(frame.TIME_PERIOD.astype(str), frame.OBS_VALUE.astype(float), strict=True)) == EXPECTED_SWE_FIN
        ecb = sdmxthon.read_sdmx(httpx.get(f"{base}/data/ECB,EXR,1.0/A.CHF.EUR.SP00.A", headers={"Accept": SS21}).text)
        assert len(ecb.payload["ECB:EXR(1.0)"].data) == 21
    finally:
        server.kill()
        server.wait()


SS21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
PANDASDMX_SCRIPT = r'''
import json, sys
import pandasdmx as sdmx

base, dsds = sys.argv[1], json.loads(sys.argv[2])
sdmx.add_source({"id": "HUB", "url": base, "name": "exchange hub"}, override=True)
client = sdmx.Request("HUB")
out = {"dsds": {}}
for agency, dsd_id, version in dsds:
    message = client.datastructure(dsd_id, provider=agency, version=version, params={"references": "descendants"})
    dsd = message.structure[dsd_id]
    out["dsds"][dsd_id] = [d.id for d in dsd.dimensions]
flow = client.dataflow("MIGR_FLOW", provider="UNECE", params={"references": "descendants"})
data = client.data("MIGR_FLOW", key={"REF_AREA": "SWE", "MIGR_FLOW": "EMI", "COUNTERPART_AREA": "FIN"},
                   params={"startPeriod": "2015"}, dsd=flow.structure["MIGR_FLOW"])
out["swe_fin"] = {key[-1]: float(value) for key, value in sdmx.to_pandas(data).items()}
exr = client.dataflow("EXR", provider="ECB", params={"references": "descendants"})
data = client.data("EXR", key="A.CHF.EUR.SP00.A", dsd=exr.structure["ECB_EXR"])
out["ecb"] = len(sdmx.to_pandas(data))
print(json.dumps(out))
'''


@pytest.mark.slow
def test_pandasdmx_reads_every_registered_structure_and_data(settings, hub, client, admin_token, tmp_path):
    """pandasdmx 1.10 needs pydantic 1, the hub pydantic 2: it runs in its own interpreter, named by
    EXCHANGE_PANDASDMX_PYTHON (e.g. a venv made with ``pip install pandasdmx==1.10.0``), over HTTP."""
    python = os.environ.get("EXCHANGE_PANDASDMX_PYTHON")
    if not python:
        pytest.skip("EXCHANGE_PANDASDMX_PYTHON is not set (pandasdmx 1.10 cannot share the hub's pydantic 2)")
    push_real_data(hub)
    register_agency_structures(client, admin_token)
    dsds = registered_dsds(client)
    port = free_port()
    server = start_server(settings.database_url, port)
    try:
        script = tmp_path / "read.py"
        script.write_text(PANDASDMX_SCRIPT)
        run = subprocess.run([python, str(script), f"http://127.0.0.1:{port}", json.dumps(dsds)],
                             capture_output=True, text=True, timeout=600, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout)
    finally:
        server.kill()
        server.wait()
    assert result["dsds"]["DEMOGRAPHY"] == ["FREQ", "COUNTRY", "SEX", "DEMO", "TIME_PERIOD"]
    assert result["dsds"]["ECB_EXR_NG"][:2] == ["FREQ", "CURRENCY"] and set(result["dsds"]) == {d[1] for d in dsds}
    assert result["swe_fin"] == EXPECTED_SWE_FIN and result["ecb"] == 21
