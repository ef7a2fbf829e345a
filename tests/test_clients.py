"""An ordinary SDMX client (sdmx1's Client) pointed at a running hub reads structures and data unchanged."""

from __future__ import annotations

import pytest
import sdmx

from exchange.body import spool
from exchange.demo import messages_in_memory
from exchange.ingest import Principal
from tests.test_faults import free_port, start_server


@pytest.mark.slow
def test_sdmx1_client_reads_structures_and_real_data(settings, hub):
    for country, data in messages_in_memory():
        assert hub.ingestor.submit(spool([data], len(data) + 1), None, Principal(None, country, False)).status == 200
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
