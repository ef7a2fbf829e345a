"""SDMX-ML 3.0 structure messages, registered through their SDMX-ML 2.1 equivalent (issue #11).

The hub keeps every structure as SDMX-ML 2.1 (read by sdmx1, served as it is or converted by pysdmx), so a
3.0 message is rewritten once, on arrival, into the 2.1 message that says the same thing. The differences
handled (SDMX-ML 3.0 SDMXStructure*.xsd against their 2.1 counterparts):

* namespaces ``.../v3_0/...`` (or ``v3_1``) become ``.../v2_1/...``; 3.0 containers are renamed
  (``ConceptSchemes`` -> ``Concepts``; ``AgencySchemes``, ``DataProviderSchemes``... -> ``OrganisationSchemes``);
* references written as URN text (``<str:Enumeration>urn:...</str:Enumeration>``) become ``<URN>`` children,
  and local ids (``<str:Parent>A</str:Parent>``, ``<str:DimensionReference>``, attribute relationships)
  become ``<Ref id=".."/>``;
* an attribute's ``usage`` (mandatory/optional) becomes ``assignmentStatus`` (Mandatory/Conditional); an
  ``Observation`` relationship becomes the ``PrimaryMeasure`` one, an empty or ``Dataflow`` one ``None``;
* ``Measure`` becomes ``PrimaryMeasure`` (the hub then refuses a DSD without exactly one measure);
* what 2.1 cannot say is left out: ``com:Link``, ``AnnotationValue``, ``MetadataAttributeUsage``, a
  DSD's ``Metadata`` reference, ``MeasureRelationship``, representation ``minOccurs``/``maxOccurs``.

Artefact types the hub does not register from 3.0 (hierarchies, value lists, constraints, maps...) make
the message refused with a clear error, as does a ``CodelistExtension``.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

SCHEMAS = "http://www.sdmx.org/resources/sdmxml/schemas/"
V21 = SCHEMAS + "v2_1/"
MES, STR, COM = V21 + "message", V21 + "structure", V21 + "common"
NEW_VERSIONS = ("v3_0", "v3_1")
#: 3.0 container -> 2.1 container, for the artefact types registered from 3.0.
CONTAINERS = {
    "AgencySchemes": "OrganisationSchemes", "DataProviderSchemes": "OrganisationSchemes",
    "DataConsumerSchemes": "OrganisationSchemes", "OrganisationUnitSchemes": "OrganisationSchemes",
    "Dataflows": "Dataflows", "CategorySchemes": "CategorySchemes", "Categorisations": "Categorisations",
    "Codelists": "Codelists", "ConceptSchemes": "Concepts", "DataStructures": "DataStructures",
}
#: 2.1 container order (SDMXStructure.xsd StructuresType).
ORDER = ["OrganisationSchemes", "Dataflows", "CategorySchemes", "Categorisations", "Codelists", "Concepts",
         "DataStructures"]
#: Elements whose 3.0 content is a URN and whose 2.1 content is a reference (ReferenceType).
URN_REFERENCES = {"ConceptIdentity", "Enumeration", "Structure", "ConceptRole", "Source", "Target"}
#: Elements whose 3.0 content is a local id and whose 2.1 content is ``<Ref id=".."/>``.
LOCAL_REFERENCES = {"Parent", "DimensionReference", "AttachmentGroup"}
DROPPED = {"Link", "AnnotationValue", "MetadataAttributeUsage", "MeasureRelationship", "Metadata", "SentinelValue"}
#: 3.0 attributes with no 2.1 counterpart.
DROPPED_ATTRIBUTES = {"minOccurs", "maxOccurs", "isMultiLingual"}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True,
                         remove_pis=True, huge_tree=False)


class Sdmx30Error(ValueError):
    """A 3.0 structure message with something the hub cannot register."""


def version_of(root: Any) -> str | None:
    """``v3_0`` or ``v3_1`` for a 3.x message, else None."""
    namespace = etree.QName(root).namespace or ""
    return next((v for v in NEW_VERSIONS if namespace == f"{SCHEMAS}{v}/message"), None)


def as_sdmx21(data: bytes) -> bytes:
    """``data`` itself when it is not an SDMX-ML 3.x structure message, else its SDMX-ML 2.1 equivalent."""
    if b"/v3_0/" not in data and b"/v3_1/" not in data:
        return data
    try:
        root = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError:
        return data  # reported by the 2.1 reader, with its location
    if version_of(root) is None or etree.QName(root).localname != "Structure":
        return data
    return etree.tostring(_message(root), xml_declaration=True, encoding="utf-8")


def _message(root: Any) -> Any:
    out = etree.Element(f"{{{MES}}}Structure", nsmap={"mes": MES, "str": STR, "com": COM})
    header = etree.SubElement(out, f"{{{MES}}}Header")
    old_header = _child(root, "Header")
    for name, default in (("ID", "IREF"), ("Test", "false"), ("Prepared", "2000-01-01T00:00:00")):
        found = _child(old_header, name) if old_header is not None else None
        etree.SubElement(header, f"{{{MES}}}{name}").text = (found.text or default) if found is not None else default
    sender = _child(old_header, "Sender") if old_header is not None else None
    etree.SubElement(header, f"{{{MES}}}Sender", id=sender.get("id", "UNKNOWN") if sender is not None else "UNKNOWN")
    structures = etree.SubElement(out, f"{{{MES}}}Structures")
    containers: dict[str, Any] = {}
    for container in _child(root, "Structures") if _child(root, "Structures") is not None else []:
        name = etree.QName(container).localname
        if name not in CONTAINERS:
            raise Sdmx30Error(f"SDMX-ML 3.0 {name} are not registered by the hub. It registers 3.0 code lists, "
                              "concept schemes, DSDs, dataflows, organisation schemes, category schemes and "
                              "categorisations: remove the others, or send them as SDMX-ML 2.1.")
        target = CONTAINERS[name]
        if target not in containers:
            containers[target] = etree.Element(f"{{{STR}}}{target}")
        for artefact in container:
            containers[target].append(_convert(artefact))
    for name in ORDER:
        if name in containers:
            structures.append(containers[name])
    etree.cleanup_namespaces(out)
    return out


def _child(element: Any, name: str) -> Any:
    return next((c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name), None)


def _tag(element: Any) -> str:
    """The 2.1 tag of a 3.x element (same local name, 2.1 namespace)."""
    qname = etree.QName(element)
    namespace = qname.namespace or ""
    for version in NEW_VERSIONS:
        namespace = namespace.replace(f"/{version}/", "/v2_1/")
    return f"{{{namespace}}}{qname.localname}" if namespace else qname.localname


def _convert(element: Any, measure: str = "OBS_VALUE") -> Any:
    """The 2.1 form of one 3.x element and its content."""
    name = etree.QName(element).localname
    if name == "CodelistExtension":
        raise Sdmx30Error("A CodelistExtension cannot be registered: send the complete code list.")
    if name == "DataStructureComponents":
        measure = _measure_id(element) or measure
    out = etree.Element(_tag(element), _attributes(element, name))
    text = (element.text or "").strip()
    if name in URN_REFERENCES and text.startswith("urn:"):
        etree.SubElement(out, "URN").text = text
    elif name in LOCAL_REFERENCES and text and len(element) == 0:
        etree.SubElement(out, "Ref", id=text)
    elif name == "AttributeRelationship":
        _relationship(element, out, measure)
    elif name == "Measure":
        out.tag = f"{{{STR}}}PrimaryMeasure"
        _copy_children(element, out, measure)
    else:
        out.text = element.text if len(element) == 0 else None
        _copy_children(element, out, measure)
    return out


def _copy_children(element: Any, out: Any, measure: str) -> None:
    for child in element:
        if isinstance(child.tag, str) and etree.QName(child).localname not in DROPPED:
            out.append(_convert(child, measure))


def _attributes(element: Any, name: str) -> dict[str, str]:
    attributes = {k: v for k, v in element.attrib.items()
                  if k not in DROPPED_ATTRIBUTES and (k != "usage" or name not in ("Attribute", "Measure"))}
    if name == "Attribute":
        attributes["assignmentStatus"] = "Mandatory" if element.get("usage") == "mandatory" else "Conditional"
    return attributes


def _measure_id(components: Any) -> str | None:
    measures = _child(components, "MeasureList")
    first = _child(measures, "Measure") if measures is not None else None
    return first.get("id") if first is not None else None


def _relationship(element: Any, out: Any, measure: str) -> None:
    """3.0 AttributeRelationship (Dataflow | Dimension+ | Group | Observation) -> its 2.1 form."""
    children = [c for c in element if isinstance(c.tag, str)]
    names = [etree.QName(c).localname for c in children]
    if "Observation" in names:
        etree.SubElement(etree.SubElement(out, f"{{{STR}}}PrimaryMeasure"), "Ref", id=measure)
    elif "Dimension" in names or "Group" in names:
        for child, name in zip(children, names, strict=True):
            if name in ("Dimension", "Group", "AttachmentGroup"):
                etree.SubElement(etree.SubElement(out, f"{{{STR}}}{name}"), "Ref", id=(child.text or "").strip())
    else:
        etree.SubElement(out, f"{{{STR}}}None")
