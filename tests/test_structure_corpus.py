"""No structure file gives a 5xx (issue #11, class 5): every official structure sample, the SDMX global
registry dump, and mutations of them (truncated, elements removed, references broken) sent to
``POST /structure`` answer 2xx or a clear 4xx JSON error, and a refused message changes nothing."""

from __future__ import annotations

import gzip
import random
import re
from collections.abc import Callable

import pytest
from lxml import etree

from tests.conftest import SPECIMENS, auth, specimen
from tests.test_real_structures import ecb_lists_and_concepts_30

SAMPLES = sorted(p.name for p in SPECIMENS.glob("*structure-*.xml"))
REGISTRY = "sdmx-global-registry-2020-all-provisionagreements-with-descendants.xml.gz"
#: Elements whose removal breaks a structure in a way worth trying (2.1 and 3.0 names).
REMOVABLE = ["Code", "ConceptIdentity", "Enumeration", "Ref", "URN", "Structure", "PrimaryMeasure", "Measure",
             "DimensionList", "AttributeRelationship", "Name", "Header", "Codelist", "DataStructureComponents"]


def checked(client, token: str, body: bytes) -> int:
    """POST the body; any answer but a 5xx is fine, and a 4xx must say what is wrong."""
    response = client.post("/structure", content=body, headers=auth(token))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["message"], response.text
    return response.status_code


def truncations(body: bytes) -> list[bytes]:
    return [body[: len(body) // 3], body[:-20]]


def removals(body: bytes, rng: random.Random, names: list[str] = REMOVABLE) -> list[bytes]:
    """For each element name of ``names`` present, the message without one of those elements (chosen at random)."""
    out = []
    for name in names:
        root = etree.fromstring(body)
        found = [e for e in root.iter() if isinstance(e.tag, str) and etree.QName(e).localname == name
                 and e.getparent() is not None]
        if found:
            victim = rng.choice(found)
            victim.getparent().remove(victim)
            out.append(etree.tostring(root))
    return out


def broken_references(body: bytes) -> list[bytes]:
    """References to versions, agencies and ids that do not exist, and URNs that are not URNs."""
    return [
        re.sub(rb'(<Ref [^>]*?)version="([^"]*)"', rb'\1version="9.\2"', body),
        re.sub(rb'(<Ref [^>]*?)agencyID="([^"]*)"', rb'\1agencyID="NOPE"', body),
        re.sub(rb"(urn:sdmx:[^<\"]*?=)([A-Z0-9_]+):", rb"\1NOPE:", body),
        re.sub(rb">urn:sdmx:[^<]*<", b">urn:sdmx:broken<", body),
        re.sub(rb'(<Ref [^>]*?)id="([^"]*)"', rb'\1id="\2_MISSING"', body),
    ]


def mutations(body: bytes, seed: int) -> list[bytes]:
    return [*truncations(body), *removals(body, random.Random(seed)), *broken_references(body)]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_structure_sample_and_its_mutations_answer_without_5xx(client, hub, admin_token, name):
    body = specimen(name)
    assert checked(client, admin_token, body) in (201, 409)  # 409: the sample refers to what it does not bring
    for i, mutated in enumerate(mutations(body, seed=len(name))):
        before = hub.catalog
        if checked(client, admin_token, mutated) >= 400:
            assert hub.catalog is before, f"mutation {i} was refused but changed the structures"


@pytest.mark.slow
def test_global_registry_dump_registers_and_is_served(client, admin_token):
    """The SDMX global registry's 2020 dump (ESTAT, IMF, OECD, UNSD DSDs, dataflows, provision agreements)."""
    body = gzip.decompress(specimen(REGISTRY))
    for mutated in truncations(body)[:2]:
        assert checked(client, admin_token, mutated) == 400
    assert checked(client, admin_token, body) == 201
    served = client.get("/dataflow/all/all/latest?detail=allstubs")
    assert served.status_code == 200 and served.content.count(b"<str:Dataflow ") == 2 + 6  # UNECE + registry
    provision = client.get("/provisionagreement/all/all/all?references=children")
    assert provision.status_code == 200 and provision.content.count(b"<str:ProvisionAgreement ") == 8


V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"


def _message_21(containers: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><mes:Structure xmlns:mes="{V21}message" '
            f'xmlns:str="{V21}structure" xmlns:com="{V21}common"><mes:Header><mes:ID>X</mes:ID><mes:Test>false'
            '</mes:Test><mes:Prepared>2026-01-01T00:00:00Z</mes:Prepared><mes:Sender id="IMF"/></mes:Header>'
            f"<mes:Structures>{containers}</mes:Structures></mes:Structure>").encode()


PROVIDER_CONSTRAINT = _message_21(
    '<str:Constraints><str:ContentConstraint id="CC_KAZ" agencyID="UNECE" version="1.0" type="Allowed">'
    '<com:Name xml:lang="en">What KAZ reports</com:Name><str:ConstraintAttachment><str:DataProvider>'
    '<Ref agencyID="UNECE" maintainableParentID="DATA_PROVIDERS" maintainableParentVersion="1.0" id="KAZ" '
    'class="DataProvider" package="base"/></str:DataProvider></str:ConstraintAttachment>'
    '<str:CubeRegion include="true"><com:KeyValue id="REF_AREA"><com:Value>KAZ</com:Value></com:KeyValue>'
    "</str:CubeRegion></str:ContentConstraint></str:Constraints>")


def test_constraint_attached_to_a_data_provider_is_registered(client, admin_token, token_for):
    """As the IMF and Eurostat registries attach reporting constraints: to the data provider, not a dataflow.
    Registered and served; it does not restrict validation (what a provider reports is its own country's)."""
    response = client.post("/structure", content=PROVIDER_CONSTRAINT, headers=auth(admin_token))
    assert response.status_code == 201, response.text
    served = client.get("/contentconstraint/UNECE/CC_KAZ?references=children")
    assert served.status_code == 200 and b"DATA_PROVIDERS" in served.content
    from tests.helpers import simple_message

    assert client.post("/data", content=simple_message(), headers=auth(token_for("KAZ"))).status_code == 200


def _without_measure(body: bytes, replacement: bytes) -> bytes:
    return re.sub(rb"<str:MeasureList.*?</str:MeasureList>", replacement, body, flags=re.S)


Mutation = Callable[[bytes], bytes]
MEASURELESS: dict[str, tuple[str, Mutation]] = {
    "2.1 empty measure list": ("structure-ECB_EXR_NG-full.xml", lambda b: re.sub(
        rb"<structure:PrimaryMeasure.*?</structure:PrimaryMeasure>", b"", b, flags=re.S)),
    "3.0 empty measure list": ("sdmx30-structure-datastructure-ECB_EXR.xml", lambda b: _without_measure(
        b, b'<str:MeasureList id="MeasureDescriptor"></str:MeasureList>')),
    "3.0 no measure list": ("sdmx30-structure-datastructure-ECB_EXR.xml", lambda b: _without_measure(b, b"")),
    "3.0 two measures": ("sdmx30-structure-datastructure-ECB_EXR.xml", lambda b: b.replace(
        b"</str:Measure>", b'</str:Measure><str:Measure id="OBS_VALUE2" usage="optional"><str:ConceptIdentity>'
        b"urn:sdmx:org.sdmx.infomodel.conceptscheme.Concept=ECB:ECB_CONCEPTS(1.0).OBS_VALUE</str:ConceptIdentity>"
        b"</str:Measure>")),
}


@pytest.mark.parametrize("case", MEASURELESS)
def test_dsd_without_exactly_one_measure_is_a_clear_400(client, admin_token, case):
    name, mutate = MEASURELESS[case]
    if name.startswith("sdmx30"):
        ecb_lists_and_concepts_30(client, admin_token)
    response = client.post("/structure", content=mutate(specimen(name)), headers=auth(admin_token))
    assert response.status_code == 400, response.text
    assert "measure" in response.json()["message"]


def test_3_0_dsd_with_metadata_attribute_usages_registers(client, admin_token):
    """SDMX 3.0 lets a DSD name metadata attributes of a metadata structure; 2.1 (and the hub) has no place
    for them: they are left out, the data part is registered."""
    ecb_lists_and_concepts_30(client, admin_token)
    dsd = specimen("sdmx30-structure-datastructure-ECB_EXR.xml").replace(
        b"</str:AttributeList>",
        b'<str:MetadataAttributeUsage><str:MetadataAttributeReference>COMMENT</str:MetadataAttributeReference>'
        b"<str:AttributeRelationship><str:Dataflow/></str:AttributeRelationship></str:MetadataAttributeUsage>"
        b"</str:AttributeList>").replace(
        b"</str:DataStructureComponents>", b"</str:DataStructureComponents><str:Metadata>urn:sdmx:org.sdmx."
        b"infomodel.metadatastructure.MetadataStructure=ECB:ECB_MSD(1.0)</str:Metadata>")
    response = client.post("/structure", content=dsd, headers=auth(admin_token))
    assert response.status_code == 201, response.text
    served = client.get("/datastructure/ECB/ECB_EXR/1.0")
    assert served.status_code == 200 and b"COMMENT" not in served.content and b"OBS_STATUS" in served.content
