"""Structure queries answered from the structure messages themselves (the XML the hub loaded or was pushed).

Each maintainable artefact is kept as its original SDMX-ML 2.1 element, so answers are exactly what was
registered, valid against the XSDs like their sources. References between artefacts are read from the
``Ref`` elements (SDMX 2.1: ``class``/``package``, or the containing element for ``Structure`` and
``Enumeration``), which is enough for ``references=`` (REST 1.5 4_3_structural_queries.md).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"
MES, STR, COM = V21 + "message", V21 + "structure", V21 + "common"

#: REST resource -> (element, container), containers in the order SDMXStructure.xsd requires.
RESOURCES: dict[str, tuple[str, str]] = {
    "agencyscheme": ("AgencyScheme", "OrganisationSchemes"),
    "dataproviderscheme": ("DataProviderScheme", "OrganisationSchemes"),
    "dataconsumerscheme": ("DataConsumerScheme", "OrganisationSchemes"),
    "organisationunitscheme": ("OrganisationUnitScheme", "OrganisationSchemes"),
    "dataflow": ("Dataflow", "Dataflows"),
    "categoryscheme": ("CategoryScheme", "CategorySchemes"),
    "categorisation": ("Categorisation", "Categorisations"),
    "codelist": ("Codelist", "Codelists"),
    "hierarchicalcodelist": ("HierarchicalCodelist", "HierarchicalCodelists"),
    "conceptscheme": ("ConceptScheme", "Concepts"),
    "datastructure": ("DataStructure", "DataStructures"),
    "contentconstraint": ("ContentConstraint", "Constraints"),
    "provisionagreement": ("ProvisionAgreement", "ProvisionAgreements"),
}
CONTAINER_ORDER = ["OrganisationSchemes", "Dataflows", "Metadataflows", "CategorySchemes", "Categorisations",
                   "Codelists", "HierarchicalCodelists", "Concepts", "MetadataStructures", "DataStructures",
                   "StructureSets", "ReportingTaxonomies", "Processes", "Constraints", "ProvisionAgreements"]
ELEMENT_TO_RESOURCE = {element: resource for resource, (element, _c) in RESOURCES.items()}
#: Ref class -> resource, for references inside artefacts.
REF_CLASSES = {"Codelist": "codelist", "ConceptScheme": "conceptscheme", "Concept": "conceptscheme",
               "DataStructure": "datastructure", "Dataflow": "dataflow", "DataProviderScheme": "dataproviderscheme",
               "DataProvider": "dataproviderscheme", "AgencyScheme": "agencyscheme", "CategoryScheme": "categoryscheme",
               "Code": "codelist"}
ITEM_SCHEMES = {"codelist", "conceptscheme", "agencyscheme", "dataproviderscheme", "dataconsumerscheme",
                "organisationunitscheme", "categoryscheme"}

Key = tuple[str, str, str, str]  # resource, agency, id, version


@dataclass
class Artefacts:
    elements: dict[Key, Any] = field(default_factory=dict)
    refs: dict[Key, set[Key]] = field(default_factory=dict)

    @classmethod
    def from_sources(cls, sources: Iterable[bytes]) -> Artefacts:
        artefacts = cls()
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True)
        for source in sources:
            root = etree.fromstring(source, parser)
            normalise(root)
            structures = root.find(f"{{{MES}}}Structures")
            for container in structures if structures is not None else []:
                for element in container:
                    resource = ELEMENT_TO_RESOURCE.get(etree.QName(element).localname)
                    if resource is None or element.get("isExternalReference") == "true":
                        continue
                    key = (resource, element.get("agencyID", ""), element.get("id", ""), element.get("version", "1.0"))
                    artefacts.add(key, element)
        for key, element in artefacts.elements.items():
            artefacts.refs[key] = {r for r in _references(element) if r in artefacts.elements and r != key}
        return artefacts

    def add(self, key: Key, element: Any) -> None:
        """Keep ``element``; a partial item scheme (``isPartial="true"``) only adds the items the kept one lacks.

        SDMX 2.1 Part II 3.5.2: a partial item scheme carries a subset of the items; it never removes any (#11).
        """
        existing = self.elements.get(key)
        if existing is None or element.get("isPartial") != "true" or key[0] not in ITEM_SCHEMES:
            self.elements[key] = element
            return
        known = {child.get("id") for child in existing if _is_item(child)}
        for child in element:
            if _is_item(child) and child.get("id") not in known:
                existing.append(copy.deepcopy(child))

    # --- selection (REST 1.5 keywords all/latest and "+" lists; 2.x "*", "," and "~"/"+" are mapped to these) --

    def select(self, resources: set[str] | None, agencies: set[str] | None, ids: set[str] | None,
               versions: set[str] | None) -> list[Key]:
        """``None`` means any (``all``); versions may contain ``latest``."""
        found = [k for k in self.elements if (resources is None or k[0] in resources)
                 and (agencies is None or k[1] in agencies) and (ids is None or k[2] in ids)]
        if versions is None:
            return sorted(found)
        exact = [k for k in found if k[3] in versions]
        if "latest" in versions:
            latest: dict[tuple[str, str, str], Key] = {}
            for k in found:
                if k[:3] not in latest or _version(k[3]) > _version(latest[k[:3]][3]):
                    latest[k[:3]] = k
            exact += list(latest.values())
        return sorted(set(exact))

    def children(self, keys: Iterable[Key]) -> set[Key]:
        return {r for k in keys for r in self.refs.get(k, ())}

    def descendants(self, keys: Iterable[Key]) -> set[Key]:
        seen: set[Key] = set()
        todo = list(self.children(keys))
        while todo:
            key = todo.pop()
            if key not in seen:
                seen.add(key)
                todo.extend(self.refs.get(key, ()))
        return seen

    def parents(self, keys: Iterable[Key]) -> set[Key]:
        wanted = set(keys)
        return {k for k, refs in self.refs.items() if refs & wanted}

    def with_references(self, keys: list[Key], references: str) -> tuple[list[Key], set[Key]]:
        """(the artefacts asked for, the referenced ones) for a ``references=`` value."""
        if references == "none":
            extra: set[Key] = set()
        elif references == "children":
            extra = self.children(keys)
        elif references == "descendants":
            extra = self.descendants(keys)
        elif references == "parents":
            extra = self.parents(keys)
        elif references == "parentsandsiblings":
            parents = self.parents(keys)
            extra = parents | self.children(parents)
        elif references == "all":
            parents = self.parents(keys)
            extra = parents | self.children(parents) | self.descendants(keys)
        elif references in RESOURCES:
            parents = self.parents(keys)
            extra = {k for k in parents | self.children(parents) | self.descendants(keys) if k[0] == references}
        else:
            raise ValueError(f"references={references} is not none, parents, parentsandsiblings, children, "
                             "descendants, all or a structure type.")
        return keys, extra - set(keys)

    def message(self, keys: list[Key], referenced: set[Key], detail: str, item: str | None = None,
                extra_elements: list[Any] | None = None) -> bytes:
        """An SDMX-ML 2.1 Structure message holding the artefacts, in the XSD's container order.

        ``extra_elements`` are artefacts made on the fly (e.g. an availability constraint), placed in
        their containers too.
        """
        root = etree.Element(f"{{{MES}}}Structure", nsmap={"mes": MES, "str": STR, "com": COM})
        header = etree.SubElement(root, f"{{{MES}}}Header")
        etree.SubElement(header, f"{{{MES}}}ID").text = "EXCHANGE_STRUCTURE"
        etree.SubElement(header, f"{{{MES}}}Test").text = "false"
        etree.SubElement(header, f"{{{MES}}}Prepared").text = datetime.now(UTC).isoformat(timespec="seconds")
        etree.SubElement(header, f"{{{MES}}}Sender", id="UNECE")
        structures = etree.SubElement(root, f"{{{MES}}}Structures")
        containers: dict[str, Any] = {}
        for key in sorted(set(keys) | referenced, key=lambda k: (CONTAINER_ORDER.index(RESOURCES[k[0]][1]),
                                                                   _ELEMENT_ORDER.index(k[0]), k)):
            container_name = RESOURCES[key[0]][1]
            if container_name not in containers:
                containers[container_name] = etree.SubElement(structures, f"{{{STR}}}{container_name}")
            stub = detail == "allstubs" or (detail == "referencestubs" and key in referenced)
            element = _stub(self.elements[key]) if stub else copy.deepcopy(self.elements[key])
            if item is not None and key in keys and key[0] in ITEM_SCHEMES:
                _keep_items(element, set(item.split("+")))
            containers[container_name].append(element)
        for element in extra_elements or []:
            container_name = RESOURCES[ELEMENT_TO_RESOURCE[etree.QName(element).localname]][1]
            if container_name not in containers:
                containers[container_name] = etree.SubElement(structures, f"{{{STR}}}{container_name}")
            containers[container_name].append(element)
        _order_containers(structures)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")


_ELEMENT_ORDER = list(RESOURCES)


def _order_containers(structures: Any) -> None:
    children = sorted(structures, key=lambda c: CONTAINER_ORDER.index(etree.QName(c).localname))
    for child in children:
        structures.append(child)  # re-appending moves the element: the XSD fixes the container order


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def _is_item(child: Any) -> bool:
    return isinstance(child.tag, str) and etree.QName(child).localname not in ("Annotations", "Name", "Description")


def _references(element: Any) -> Iterable[Key]:
    """What an artefact refers to, written as ``<Ref .../>`` or as ``<URN>urn:sdmx:...</URN>`` (both SDMX 2.1)."""
    yield from _ref_elements(element)
    for urn in element.iter("URN"):
        key = urn_key(urn.text or "")
        if key is not None:
            yield key


def urn_key(urn: str) -> Key | None:
    """``urn:sdmx:org.sdmx.infomodel.{package}.{Class}=AGENCY:ID(VERSION)[.ITEM]`` -> key (SDMX 2.1 Part II, 3.3)."""
    try:
        head, body = urn.strip().split("=", 1)
        agency, rest = body.split(":", 1)
        ident, version = rest.split("(", 1)
        version = version.split(")", 1)[0]
    except ValueError:
        return None
    resource = REF_CLASSES.get(head.rsplit(".", 1)[-1])
    return None if resource is None else (resource, agency, ident, version)


def normalise(root: Any) -> None:
    """Write out what SDMX-ML 2.1 lets a message leave implied, so every client reads the answers (#11).

    Each form is equivalent under the 2.1 schemas: ``<URN>`` references become ``<Ref/>`` (pysdmx reads only
    those), a ``Ref`` gets the ``class``/``package`` its element implies (pandasdmx needs them), component
    lists get their fixed ids and texts their default language (sdmxthon needs both).
    """
    urns_to_refs(root)
    _default_language(root)
    for ref in root.iter("Ref"):
        cls = ref.get("class") or _implied_class(ref)
        if cls in _PACKAGES and ref.get("class") is None:
            ref.set("class", cls)
            ref.set("package", _PACKAGES[cls])
    for name, fixed in _FIXED_IDS.items():
        for element in root.iter(f"{{{STR}}}{name}"):
            element.set("id", element.get("id") or fixed)
    for component in root.iter(*_COMPONENTS):
        concept = component.find(f"{{{STR}}}ConceptIdentity/Ref")
        if component.get("id") is None and concept is not None and concept.get("id"):
            component.set("id", concept.get("id"))  # a component's id defaults to its concept's (2.1 Part II 5.3)


_PACKAGES = {"Codelist": "codelist", "Concept": "conceptscheme", "DataStructure": "datastructure"}
#: SDMXStructureDataStructure.xsd: the fixed ids of a DSD's component lists.
_FIXED_IDS = {"DimensionList": "DimensionDescriptor", "AttributeList": "AttributeDescriptor",
              "MeasureList": "MeasureDescriptor"}
_COMPONENTS = tuple(f"{{{STR}}}{name}" for name in ("Dimension", "MeasureDimension", "TimeDimension", "Attribute",
                                                   "PrimaryMeasure"))
_TEXTS = tuple(f"{{{COM}}}{name}" for name in ("Name", "Description", "AnnotationText"))
_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _default_language(root: Any) -> None:
    """Write the language of texts that leave it out: ``xml:lang`` defaults to ``en`` (SDMXCommon.xsd TextType).

    Clients such as sdmxthon need the attribute to be there.
    """
    for text in root.iter(*_TEXTS):
        if _LANG not in text.attrib:
            text.set(_LANG, "en")


def urns_to_refs(root: Any) -> None:
    """Rewrite each ``<URN>`` reference as the equivalent ``<Ref/>`` (SDMX 2.1 SDMXCommonReferences.xsd).

    Both forms are valid 2.1, but some clients (pysdmx) read only ``<Ref class=...>``, so answers use it.
    """
    for urn in list(root.iter("URN")):
        attributes = urn_ref(urn.text or "")
        if attributes is not None:
            ref = etree.Element("Ref", attributes)
            ref.tail = urn.tail
            urn.getparent().replace(urn, ref)


_URN = re.compile(r"urn:sdmx:org\.sdmx\.infomodel\.(?P<package>[a-z]+)\.(?P<cls>[A-Za-z]+)="
                  r"(?P<agency>[^:()]+):(?P<id>[^:()]+)\((?P<version>[^()]+)\)(?:\.(?P<item>[^()]+))?$")


def urn_ref(urn: str) -> dict[str, str] | None:
    """The ``Ref`` attributes of an SDMX URN (SDMX 2.1 Part II 3.3), None if it is not one."""
    match = _URN.match(urn.strip())
    if match is None:
        return None
    ref = {"agencyID": match["agency"], "class": match["cls"], "package": match["package"]}
    if match["item"]:
        return {**ref, "maintainableParentID": match["id"], "maintainableParentVersion": match["version"],
                "id": match["item"]}
    return {**ref, "id": match["id"], "version": match["version"]}


def _ref_elements(element: Any) -> Iterable[Key]:
    for ref in element.iter("Ref"):
        cls = ref.get("class") or _implied_class(ref)
        resource = REF_CLASSES.get(cls or "")
        if resource is None:
            continue
        if cls in ("Concept", "DataProvider", "Code"):
            yield (resource, ref.get("agencyID", ""), ref.get("maintainableParentID", ""),
                   ref.get("maintainableParentVersion", "1.0"))
        else:
            yield (resource, ref.get("agencyID", ""), ref.get("id", ""), ref.get("version", "1.0"))


def _implied_class(ref: Any) -> str | None:
    parent = etree.QName(ref.getparent()).localname
    return {"Enumeration": "Codelist", "ConceptIdentity": "Concept", "Structure": "DataStructure",
            "IncludedCodelist": "Codelist"}.get(parent)


def _stub(element: Any) -> Any:
    """Identification and names only (REST detail=allstubs / referencestubs)."""
    stub = etree.Element(element.tag, dict(element.attrib))
    for child in element:
        if etree.QName(child).localname in ("Name", "Description"):
            stub.append(copy.deepcopy(child))
    stub.set("isExternalReference", "true")
    return stub


def _keep_items(element: Any, item_ids: set[str]) -> None:
    """Keep only the asked-for items of an item scheme; it becomes partial (REST 1.5 itemID)."""
    for child in list(element):
        name = etree.QName(child).localname
        if name not in ("Annotations", "Name", "Description") and child.get("id") not in item_ids:
            element.remove(child)
    element.set("isPartial", "true")
