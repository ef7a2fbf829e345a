"""SDMX-ML 2.1, 3.0 and 3.1 data messages, streamed with lxml ``iterparse``.

One loop over (event, element), dispatching on the element's local name, handles the four 2.1 data
flavours (SDMXDataGeneric.xsd, SDMXDataStructureSpecific.xsd and their TimeSeries restrictions) for
any ``dimensionAtObservation``, and the single 3.0/3.1 StructureSpecificData flavour, whose deltas are
small: other namespaces, the structure referenced by URN text, no ``dataScope``. Each element is cleared
after its ``end`` event, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from lxml import etree

from exchange.parse.xmlsafe import PrologGuard, check_prolog
from exchange.rows import Action, DataSet, GroupValues, MessageError, Obs, StructureRef

V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"
SCHEMAS = "http://www.sdmx.org/resources/sdmxml/schemas/"
#: message namespace -> SDMX-ML version (3.0 and 3.1 only have StructureSpecificData)
MESSAGE_NS = {V21 + "message": "2.1", SCHEMAS + "v3_0/message": "3.0", SCHEMAS + "v3_1/message": "3.1"}
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE = f"{{{XSI_NS}}}type"
DATA_ROOTS = {"GenericData", "GenericTimeSeriesData", "StructureSpecificData", "StructureSpecificTimeSeriesData"}
#: DataSet attributes defined by SDMX itself (SDMXDataStructureSpecific.xsd DataSetType), not DSD attributes.
DATASET_SDMX_ATTRS = {
    "action", "setID", "reportingBeginDate", "reportingEndDate", "validFromDate", "validToDate", "publicationYear",
    "publicationPeriod", "structureRef", "dataScope", "REPORTING_YEAR_START_DAY",
}
#: Elements a 2.1 DataSet may hold (SDMXDataGeneric.xsd, SDMXDataStructureSpecific.xsd); common:Annotations
#: and its children are in the common namespace and always allowed.
DATASET_CONTENT = {"DataProvider", "Series", "SeriesKey", "Attributes", "Value", "Obs", "ObsDimension", "ObsKey",
                   "ObsValue", "Group", "GroupKey"}
COMMON_PREFIXES = tuple(f"{{{SCHEMAS}{v}/common}}" for v in ("v2_1", "v3_0", "v3_1"))
_REF_KINDS = {"Structure": "datastructure", "StructureUsage": "dataflow", "ProvisionAgrement": "provisionagreement",
              "ProvisionAgreement": "provisionagreement"}


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _plain(attrib: Any) -> dict[str, str]:
    """Unqualified attributes only (component values); drops xsi:type and other namespaced ones."""
    return {k: v for k, v in attrib.items() if k[0] != "{"}


class _Reader:
    def __init__(self) -> None:
        self.structures: dict[str, tuple[StructureRef | None, str]] = {}  # structureID -> (ref, dimAtObs)
        self.header_action: Action | None = None
        self.dataset: DataSet | None = None
        self.datasets = 0
        self.series: dict[str, str] = {}
        self.series_line = 0
        self.series_has_obs = False
        self.generic = False
        self.series_count = 0  # series read so far, for locations in one-line messages
        self.obs_in_series = 0

    # --- header --------------------------------------------------------------------------

    def header_structure(self, elem: Any) -> None:
        ref = None
        for child in elem:
            kind = _REF_KINDS.get(_local(child.tag))
            if kind is None:
                continue
            ref_el = child.find("Ref")
            if ref_el is not None:
                ref = StructureRef(kind, ref_el.get("agencyID", ""), ref_el.get("id", ""), ref_el.get("version", ""))
            else:
                urn = next((c.text for c in child if _local(c.tag) == "URN"), None) or (child.text or "").strip()
                ref = _ref_from_urn(kind, urn)
        self.structures[elem.get("structureID", "")] = (ref, elem.get("dimensionAtObservation", "TIME_PERIOD"))

    # --- datasets ------------------------------------------------------------------------

    def start_dataset(self, elem: Any) -> None:
        # Structure-specific set attributes are namespace-qualified (SetAttributeGroup, form="qualified", e.g.
        # ss:action); generic ones are not: read either.
        set_attrs = {k.rsplit("}", 1)[-1]: v for k, v in elem.attrib.items()}
        structure_id = set_attrs.get("structureRef", "")
        ref, dim_at_obs = self.structures.get(structure_id, (None, "TIME_PERIOD"))
        if ref is None and len(self.structures) == 1:
            ref, dim_at_obs = next(iter(self.structures.values()))
        action = Action.from_wire(set_attrs.get("action")) or self.header_action or Action.MERGE
        values = {} if self.generic else {k: v for k, v in _plain(elem.attrib).items() if k not in DATASET_SDMX_ATTRS}
        self.dataset = DataSet(self.datasets, ref, action, dim_at_obs, values, f"line {elem.sourceline}")
        self.datasets += 1

    def start_group(self, elem: Any) -> None:
        """A ``Group`` comes before the series it describes (SDMX-ML 2.1 DataSetType: Group*, then Series or
        Obs). SDMX-ML 3.0 lets them mix; the hub reads a dataset in one pass, so it asks for that order too."""
        if self.series_count or self.obs_in_series:
            raise MessageError("XML_SCHEMA_VIOLATION", "A <Group> comes after series or observations of its DataSet.",
                               "Put the Group elements of a DataSet before its first Series (or Obs), as SDMX-ML 2.1 "
                               "requires.", where=f"line {elem.sourceline}")

    def end_group(self, elem: Any) -> None:
        assert self.dataset is not None
        where = f"line {elem.sourceline}, group {len(self.dataset.groups) + 1}"
        if not self.generic:
            values = {k: v for k, v in _plain(elem.attrib).items() if k != "type"}
            self.dataset.groups.append(GroupValues(_group_id(elem), values, None, where))
        else:
            parts: dict[str, dict[str, str]] = {"GroupKey": {}, "Attributes": {}}
            for child in elem:
                part = parts.get(_local(child.tag))
                if part is not None:
                    part.update({v.get("id", ""): v.get("value", "") for v in child})
            self.dataset.groups.append(GroupValues(_group_id(elem), parts["Attributes"], parts["GroupKey"], where))
        elem.clear(keep_tail=False)
        _drop_previous(elem)


def _ref_from_urn(kind: str, urn: str) -> StructureRef | None:
    # urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=AGENCY:ID(VERSION)
    try:
        body = urn.split("=", 1)[1]
        agency, rest = body.split(":", 1)
        ident, version = rest.rstrip(")").split("(", 1)
    except (IndexError, ValueError):
        return None
    return StructureRef(kind, agency, ident, version)


def parse(stream: BinaryIO) -> Iterator[Obs]:
    """Yield every observation of an SDMX-ML 2.1 data message (see module docstring)."""
    check_prolog(stream)
    reader = _Reader()
    events = etree.iterparse(
        PrologGuard(stream), events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )
    try:
        yield from _walk(reader, events)
    except etree.XMLSyntaxError as exc:
        raise MessageError("XML_NOT_WELL_FORMED", f"The XML is not well-formed: {exc.msg}",
                           "Fix the XML at the place named (an unclosed tag, a stray '&', a wrong encoding...).",
                           where=f"line {exc.lineno}, column {exc.offset}") from exc


def _walk(reader: _Reader, events: Any) -> Iterator[Obs]:  # noqa: C901 - one dispatch loop, kept flat
    root_checked = False
    for event, elem in events:
        if elem.tag == "Obs":  # fast path: structure-specific observations (unqualified element)
            if event == "end":
                yield _finish_obs(reader, elem)
            continue
        name = _local(elem.tag)
        if not root_checked:
            _check_root(events, elem, name)
            reader.generic = name.startswith("Generic")
            root_checked = True
            continue
        if event == "start":
            if name == "DataSet":
                reader.start_dataset(elem)
            elif name == "Series":
                reader.series, reader.series_has_obs = ({} if reader.generic else _plain(elem.attrib)), False
                reader.series_line = elem.sourceline
                reader.series_count += 1
                reader.obs_in_series = 0
            elif name == "Group" and reader.dataset is not None:
                reader.start_group(elem)
            elif reader.dataset is not None and name not in DATASET_CONTENT and not elem.tag.startswith(COMMON_PREFIXES):
                _unexpected(elem, name, reader.generic)
            continue
        # end events
        if name == "Obs":  # generic observations (namespaced)
            yield _finish_obs(reader, elem)
        elif name == "Series":
            if not reader.series_has_obs and reader.dataset is not None:
                yield Obs(reader.dataset, reader.series, {}, f"line {reader.series_line}, series {reader.series_count}")
            reader.series = {}
            elem.clear(keep_tail=False)
            _drop_previous(elem)
        elif name == "Group" and reader.dataset is not None:
            reader.end_group(elem)
        elif reader.generic and name == "Value":
            continue  # read by its parent (SeriesKey, ObsKey, Attributes)
        elif reader.generic and name in ("SeriesKey", "Attributes") and elem.getparent() is not None:
            _generic_block(reader, elem)
        elif name == "Structure" and elem.getparent() is not None and _local(elem.getparent().tag) == "Header":
            reader.header_structure(elem)
        elif name == "DataSetAction" and _local(elem.getparent().tag) == "Header":
            reader.header_action = Action.from_wire((elem.text or "").strip())
        elif name == "DataSet":
            reader.series_count = reader.obs_in_series = 0
            reader.dataset = None
            elem.clear(keep_tail=False)
            _drop_previous(elem)


def _finish_obs(reader: _Reader, elem: Any) -> Obs:
    """The observation an ``Obs`` element holds; the element (and what came before it) is freed."""
    obs = _obs(reader, elem)
    reader.series_has_obs = True
    elem.clear(keep_tail=False)
    _drop_previous(elem)
    return obs


def _check_root(events: Any, root: Any, name: str) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise MessageError("XML_DTD_FORBIDDEN", "The XML document declares a DTD; the hub refuses DTDs and entities.",
                           "Remove the DOCTYPE declaration: SDMX-ML needs no DTD.")
    namespace = root.tag.split("}")[0][1:] if "}" in root.tag else ""
    if name == "Structure":
        raise MessageError("STRUCTURE_NOT_DATA", "This is an SDMX structure message, not a data message.",
                           "Push structure messages to POST /structure (administrators), data messages to POST /data.",
                           status=400)
    version = MESSAGE_NS.get(namespace)
    if name not in DATA_ROOTS or version is None or (version != "2.1" and name != "StructureSpecificData"):
        raise MessageError("NOT_SDMX_DATA", f"The root element {{{namespace}}}{name} is not an SDMX-ML data message.",
                           "Send an SDMX-ML 2.1 GenericData, GenericTimeSeriesData, StructureSpecificData or "
                           "StructureSpecificTimeSeriesData message, or an SDMX-ML 3.0/3.1 StructureSpecificData "
                           "message.", status=415)


def _unexpected(elem: Any, name: str, generic: bool) -> None:
    flavour = "generic" if generic else "structure-specific"
    raise MessageError("XML_SCHEMA_VIOLATION", f"<{name}> is not allowed in an SDMX-ML 2.1 {flavour} DataSet.",
                       "Check the message against the SDMX-ML 2.1 schemas: a DataSet holds Series and Obs "
                       "(and, in generic data, SeriesKey, Attributes, ObsDimension, ObsValue).",
                       where=f"line {elem.sourceline}")


def _group_id(elem: Any) -> str:
    """A structure-specific group names its GroupDimensionDescriptor by ``xsi:type`` (``ns:SiblingGroup``) or
    by the ``type`` attribute (SDMXDataStructureSpecificBase.xsd GroupType); a generic one by ``type``."""
    return (elem.get(XSI_TYPE) or elem.get("type") or "").rsplit(":", 1)[-1]


def _obs(reader: _Reader, elem: Any) -> Obs:
    dataset = reader.dataset
    if dataset is None:
        raise MessageError("NOT_SDMX_DATA", "An observation appears outside a DataSet.", "Put observations in a DataSet.",
                           where=f"line {elem.sourceline}")
    if reader.generic:
        values = _generic_obs(dataset, elem)
    else:
        values = _plain(elem.attrib)
        measure_type = elem.get(XSI_TYPE)
        if measure_type and dataset.dimension_at_observation not in values:
            # explicitMeasures (SDMX 2.1 structure-specific): the measure dimension's value is the Obs xsi:type.
            values[dataset.dimension_at_observation] = measure_type.rsplit(":", 1)[-1]
    reader.obs_in_series += 1
    where = f"line {elem.sourceline}, series {reader.series_count}, obs {reader.obs_in_series}"
    return Obs(dataset, reader.series, values, where if reader.series_count else f"line {elem.sourceline}, obs "
               f"{reader.obs_in_series}")


def _generic_obs(dataset: DataSet, elem: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    for child in elem:
        name = _local(child.tag)
        if name == "ObsDimension":
            values[child.get("id") or dataset.dimension_at_observation] = child.get("value", "")
        elif name == "ObsValue":
            values[child.get("id") or "OBS_VALUE"] = child.get("value", "")
        elif name in ("ObsKey", "Attributes"):
            for value in child:
                values[value.get("id", "")] = value.get("value", "")
    return values


def _generic_block(reader: _Reader, elem: Any) -> None:
    """SeriesKey / Attributes of a generic Series, or Attributes of a generic DataSet."""
    parent = _local(elem.getparent().tag)
    pairs = {v.get("id", ""): v.get("value", "") for v in elem}
    if parent == "Series":
        reader.series.update(pairs)
    elif parent == "DataSet" and reader.dataset is not None:
        reader.dataset.values.update(pairs)


def _drop_previous(elem: Any) -> None:
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]
