"""An ordinary SDMX client (sdmx1's Client) pointed at a running hub reads structures and data unchanged."""

from __future__ import annotations

import pytest
import sdmx

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
