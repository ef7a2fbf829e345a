"""REST schema queries, and every structure-specific output validated against the official XSDs together
with the DSD-specific schema the hub serves (the official schemas fetched from the hub itself)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from lxml import etree

from exchange.messages import Series
from tests.conftest import auth
from tests.helpers import SS_21, dims, key, obs, ss_message

XS = "http://www.w3.org/2001/XMLSchema"
MESSAGE = {"2.1": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
           "3.0": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message"}
SCHEMA_ACCEPT = {"2.1": "application/vnd.sdmx.schema+xml;version=2.1",
                 "3.0": "application/vnd.sdmx.schema+xml;version=3.0.0"}


class HubResolver(etree.Resolver):
    """Resolve the schema imports over the test client: the hub serves the official schemas too."""

    def __init__(self, client, accept: str) -> None:
        super().__init__()
        self.client, self.accept = client, accept

    def resolve(self, url, pubid, context):  # noqa: ANN001, ANN201
        parts = urlsplit(url)
        response = self.client.get(parts.path + (f"?{parts.query}" if parts.query else ""),
                                   headers={"Accept": self.accept})
        assert response.status_code == 200, (url, response.text)
        return self.resolve_string(response.content, context, base_url=url)


def validator(client, version: str, schema_url: str) -> etree.XMLSchema:
    """The official message schema plus the hub's schema for one context and dimensionAtObservation."""
    wrapper = (f'<xs:schema xmlns:xs="{XS}">'
               f'<xs:import namespace="{MESSAGE[version]}" '
               f'schemaLocation="http://testserver/schemas/sdmxml/{version}/SDMXMessage.xsd"/>'
               f'<xs:import namespace="{namespace(client, version, schema_url)}" '
               f'schemaLocation="http://testserver{schema_url.replace("&", "&amp;")}"/></xs:schema>')
    parser = etree.XMLParser()
    parser.resolvers.add(HubResolver(client, SCHEMA_ACCEPT[version]))
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser, base_url="http://testserver/"))


def namespace(client, version: str, schema_url: str) -> str:
    response = client.get(schema_url, headers={"Accept": SCHEMA_ACCEPT[version]})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.sdmx.schema+xml")
    return etree.fromstring(response.content).get("targetNamespace")


@pytest.fixture
def loaded(client, token_for):
    series = [Series(key(COUNTERPART_AREA=partner, SEX=sex, DUR_CRIT="M12"),
                     [obs("2018", "18"), obs("2019", "19.5", OBS_STATUS="P")])
              for partner in ("RUS", "UZB") for sex in ("F", "M")]
    assert client.post("/data", content=ss_message(series), headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    return client


SS21 = "application/vnd.sdmx.structurespecificdata+xml;version=2.1"
SS21_TS = "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1"
SS30 = "application/vnd.sdmx.data+xml;version=3.0.0"


@pytest.mark.parametrize(("accept", "version", "at_observation"), [
    (SS21, "2.1", "TIME_PERIOD"), (SS21_TS, "2.1", "TIME_PERIOD"), (SS21, "2.1", "AllDimensions"),
    (SS21, "2.1", "COUNTERPART_AREA"), (SS30, "3.0", "TIME_PERIOD"), (SS30, "3.0", "AllDimensions"),
    (SS30, "3.0", "SEX"),
])
def test_structure_specific_outputs_are_valid(loaded, accept, version, at_observation):
    schema = validator(loaded, version, f"/schema/dataflow/UNECE/MIGR_FLOW/1.0?dimensionAtObservation={at_observation}")
    for query in ("", "&detail=serieskeysonly", "&includeHistory=true"):
        data = loaded.get(f"/data/MIGR_FLOW?dimensionAtObservation={at_observation}{query}", headers={"Accept": accept})
        assert data.status_code == 200, data.text
        document = etree.fromstring(data.content)
        assert schema.validate(document), (query, schema.error_log.last_error)
    # the schema is strict: a code outside the constraint, or a missing dimension, is invalid
    dataset = document.find(f"{{{MESSAGE[version]}}}DataSet")
    first = dataset[0]
    first.set("REF_AREA" if at_observation != "AllDimensions" else "COUNTERPART_AREA", "NOT_A_CODE")
    assert not schema.validate(document)


def test_deletions_are_valid_too(loaded, token_for):
    deletion = ss_message([Series(dims(COUNTERPART_AREA="RUS", SEX="F"), [{"TIME_PERIOD": "2018"}])], action="Delete")
    assert loaded.post("/data", content=deletion, headers=auth(token_for("KAZ"), SS_21)).status_code == 200
    schema = validator(loaded, "2.1", "/schema/dataflow/UNECE/MIGR_FLOW/1.0")
    data = loaded.get("/data/MIGR_FLOW?updatedAfter=2000-01-01T00:00:00Z", headers={"Accept": SS21})
    document = etree.fromstring(data.content)
    actions = [d.get("{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/structurespecific}action")
               for d in document.iter(f"{{{MESSAGE['2.1']}}}DataSet")]
    assert actions == ["Replace", "Delete"] and schema.validate(document), schema.error_log.last_error


def test_schema_for_the_derived_dataflows_and_the_dsd(loaded):
    for url in ("/schema/dataflow/UNECE/MIGR_MIRROR/1.0", "/schema/datastructure/UNECE/MIGR_FLOW/latest",
                "/schema/dataflow/UNECE/MIGR_CORR_FACTOR/~"):
        response = loaded.get(url)
        assert response.status_code == 200, (url, response.text)
        xsd = etree.fromstring(response.content)
        assert xsd.tag == f"{{{XS}}}schema"
    dsd = etree.fromstring(loaded.get("/schema/datastructure/UNECE/MIGR_FLOW/1.0").content)
    assert dsd.get("targetNamespace") == (
        "urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=UNECE:MIGR_FLOW(1.0):ObsLevelDim:TIME_PERIOD")


def test_schemas_validate_the_derived_dataflows(client, token_for):
    for reporter, flow, partner, value in (("SWE", "EMI", "FIN", "100"), ("FIN", "IMM", "SWE", "120"),
                                           ("FIN", "EMI", "SWE", "80"), ("SWE", "IMM", "FIN", "90")):
        message = ss_message([Series(key(REF_AREA=reporter, MIGR_FLOW=flow, COUNTERPART_AREA=partner),
                                     [obs("2018", value)])])
        assert client.post("/data", content=message, headers=auth(token_for(reporter), SS_21)).status_code == 200
    for flow in ("MIGR_MIRROR", "MIGR_CORR_FACTOR", "MIGR_FLOW_AGG"):
        for accept, version in ((SS21, "2.1"), (SS30, "3.0")):
            schema = validator(client, version, f"/schema/dataflow/UNECE/{flow}/1.0")
            data = client.get(f"/data/{flow}", headers={"Accept": accept})
            assert data.status_code == 200, data.text
            assert schema.validate(etree.fromstring(data.content)), (flow, version, schema.error_log.last_error)


def test_constraints_narrow_the_codes(client):
    xsd = etree.fromstring(client.get("/schema/dataflow/UNECE/MIGR_FLOW/1.0").content)
    codes = {e.get("value") for e in xsd.find(f"{{{XS}}}simpleType[@name='REF_AREAType']").iter(f"{{{XS}}}enumeration")}
    assert "KAZ" in codes and "EU27_2020" not in codes  # CC_MIGR_FLOW: reporters are countries, not regions


@pytest.mark.parametrize(("url", "headers", "status"), [
    ("/schema/provisionagreement/UNECE/PA/1.0", {}, 501),
    ("/schema/nonsense/UNECE/MIGR_FLOW/1.0", {}, 400),
    ("/schema/dataflow/UNECE/NOPE/1.0", {}, 404),
    ("/schema/dataflow/UNECE/MIGR_FLOW/1.0?dimensionAtObservation=NOPE", {}, 400),
    ("/schema/dataflow/UNECE/MIGR_FLOW/1.0", {"Accept": "application/vnd.sdmx.schema+json;version=2.0.0"}, 406),
    ("/schema/dataflow/UNECE/MIGR_FLOW/1.0?asOf=2020-01-01T00:00:00Z", {}, 501),
    ("/schemas/sdmxml/2.1/../secret.xsd", {}, 404),
    ("/schemas/sdmxml/9.9/SDMXMessage.xsd", {}, 404),
])
def test_schema_query_errors(client, url, headers, status):
    assert client.get(url, headers=headers).status_code == status


def test_schema_is_cached(client):
    first = client.get("/schema/dataflow/UNECE/MIGR_FLOW/1.0")
    again = client.get("/schema/dataflow/UNECE/MIGR_FLOW/1.0", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
