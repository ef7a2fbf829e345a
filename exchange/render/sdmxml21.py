"""SDMX-ML 2.1 (and 3.0 structure-specific) data output (SDMXDataStructureSpecific.xsd, SDMXDataGeneric.xsd).

Series blocks arrive in answer order (``render.blocks``); each is written as one piece of text, so memory
holds one block at a time. lxml writes the envelope (root, header); the DataSets inside are text built
from the blocks' columns. Deletions (``updatedAfter``) come last and go into a second DataSet with
``action="Delete"``; with ``includeHistory`` each dissemination is a DataSet of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain, groupby
from typing import Any, cast

from lxml import etree

from exchange import __version__
from exchange.render import Output
from exchange.render.blocks import Block, Layout, literal, needs_escaping, xml_attribute
from exchange.render.groups import GroupSpool, OutputGroup, spool, written_groups
from exchange.render.xsd import data_namespace

V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"
MES, COM, SS, GEN = V21 + "message", V21 + "common", V21 + "data/structurespecific", V21 + "data/generic"
V30 = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/"
#: SDMX-ML 3.0 deltas: namespaces, the dataflow referenced by URN text, no dataScope (SDMXDataStructureSpecific.xsd 3.0)
NS30 = {"mes": V30 + "message", "com": V30 + "common", "ss": V30 + "data/structurespecific"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
FLUSH_OBSERVATIONS = 2000  # observations per chunk sent (about 120 kB of structure-specific XML)


def _header(out: Output, structure_specific: bool, ns: dict[str, str]) -> Any:
    mes, com = ns["mes"], ns["com"]
    header = etree.Element(f"{{{mes}}}Header", nsmap={"mes": mes, "com": com})
    etree.SubElement(header, f"{{{mes}}}ID").text = f"EXCHANGE_{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    etree.SubElement(header, f"{{{mes}}}Test").text = "false"
    etree.SubElement(header, f"{{{mes}}}Prepared").text = datetime.now(UTC).isoformat(timespec="seconds")
    etree.SubElement(header, f"{{{mes}}}Sender", id="UNECE")
    attrs = {"structureID": "STR1", "dimensionAtObservation": out.dimension_at_observation}
    urn = _flow_urn(out)
    if structure_specific:
        attrs["namespace"] = data_namespace(urn, out.dimension_at_observation)
    structure = etree.SubElement(header, f"{{{mes}}}Structure", attrs)
    # a dataflow is referenced as StructureUsage, a DSD as Structure (SDMXMessage.xsd StructureReference)
    usage = etree.SubElement(structure, f"{{{com}}}{'Structure' if out.kind == 'datastructure' else 'StructureUsage'}")
    if mes == MES:
        etree.SubElement(usage, "Ref", agencyID=out.agency, id=out.flow, version=out.version)
    else:
        usage.text = urn  # SDMX-ML 3.0 references by URN
    if mes == MES:  # 3.0 Source is a different type; left out
        etree.SubElement(header, f"{{{mes}}}Source", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}).text = (
            f"exchange {__version__}")
    return header


def _flow_urn(out: Output) -> str:
    return out.urn


def render_structure_specific(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    yield from _render(out, blocks, structure_specific=True, root_tag="StructureSpecificData")


def render_structure_specific_ts(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    yield from _render(out, blocks, structure_specific=True, root_tag="StructureSpecificTimeSeriesData")


def render_structure_specific_30(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    yield from _render(out, blocks, structure_specific=True, root_tag="StructureSpecificData", ns=NS30)


def render_generic(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    yield from _render(out, blocks, structure_specific=False, root_tag="GenericData")


def render_generic_ts(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    yield from _render(out, blocks, structure_specific=False, root_tag="GenericTimeSeriesData")


def _render(out: Output, blocks: Iterator[Block], structure_specific: bool, root_tag: str,
            ns: dict[str, str] | None = None) -> Iterator[bytes]:
    """The envelope (declaration, root, header) comes from lxml; DataSets, Series and Obs are written as
    text from the blocks' columns, escaped where a component is free text (``blocks.needs_escaping``)."""
    ns = ns or {"mes": MES, "com": COM, "ss": SS}
    nsmap = {"mes": ns["mes"], "com": ns["com"], "xsi": XSI}
    nsmap.update({"ss": ns["ss"]} if structure_specific else {"gen": GEN})
    if structure_specific:  # the DSD-specific namespace, whose DataSetType the DataSet names (GET /schema)
        nsmap["ns1"] = data_namespace(_flow_urn(out), out.dimension_at_observation)
    root = etree.Element(f"{{{ns['mes']}}}{root_tag}", nsmap=nsmap)
    root.append(_header(out, structure_specific, ns))
    root.append(etree.Element(f"{{{ns['mes']}}}DataSet"))  # a placeholder: the split point of the envelope
    envelope = etree.tostring(root, encoding="unicode")
    head, tail = envelope.split("<mes:DataSet/>")
    writer = (_StructureSpecific if structure_specific else _Generic)(out)
    chunks = ['<?xml version="1.0" encoding="UTF-8"?>\n', head]
    size, datasets = 0, 0
    for _identity, same in groupby(blocks, key=lambda b: (b.submission if out.history else None, b.deleted)):
        first = next(same)
        chunks.append(_dataset_open(out, first, structure_specific, ns))
        datasets += 1
        dataset_blocks: Iterable[Block] = chain([first], same)  # noqa: B031 - read once, right here
        if writer.groups:  # Group elements come before the series (exchange.render.groups)
            writer.spool = spool(dataset_blocks, writer.groups)
            chunks.extend(writer.group(g) for g in writer.spool.output_groups())
            dataset_blocks = writer.spool.replay()
        for block in dataset_blocks:
            chunks.append(writer.block(block))
            size += len(block)
            if size >= FLUSH_OBSERVATIONS:
                yield "".join(chunks).encode()
                chunks, size = [], 0
        writer.spool = None
        chunks.append("</mes:DataSet>")
    if not datasets:  # no observation: an empty dataset still names the structure
        chunks += [_dataset_open(out, None, structure_specific, ns), "</mes:DataSet>"]
    chunks.append(tail)
    yield "".join(chunks).encode()


def _instant(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _dataset_open(out: Output, block: Block | None, structure_specific: bool, ns: dict[str, str]) -> str:
    deleted = block is not None and block.deleted
    action = "Delete" if deleted else "Replace"
    if structure_specific:
        # Structure-specific set attributes are namespace-qualified (SetAttributeGroup, form="qualified"); the
        # concrete type comes from the DSD-specific schema (SDMX 2.1 Section 3B; GET /schema).
        attrs = f'xsi:type="ns1:DataSetType" ss:action="{action}" ss:structureRef="STR1"'
        if ns["ss"] == SS:  # 2.1 only; SDMX-ML 3.0 dropped dataScope
            attrs += ' ss:dataScope="Dataflow"'
    else:
        attrs = f'action="{action}" structureRef="STR1"'
    if out.history and block is not None and block.recorded_at is not None:
        # REST includeHistory: when these values became (or stopped being) valid
        name = "validToDate" if deleted else "validFromDate"
        attrs += f' {"ss:" if structure_specific else ""}{name}="{_instant(block.recorded_at)}"'
    return f"<mes:DataSet {attrs}>"


class _Writer(ABC):
    """What both flavours share: the layout, and per block each component as a list of XML fragments."""

    def __init__(self, out: Output) -> None:
        self.layout = Layout(out)
        self.with_obs = out.detail not in ("serieskeysonly", "nodata")
        self.escaped = {c for c in out.schema.components if needs_escaping(out, c)}
        schema = out.schema
        self.groups = written_groups(self.layout, schema.groups, {g: schema.group_attributes(g) for g in schema.groups})
        self.spool: GroupSpool | None = None  # the current DataSet's groups, when the DSD has some

    def block_values(self, block: Block) -> list[tuple[str, str]]:
        """The block's key, then its attributes: (component, escaped text) in message order; attributes its
        Group elements carry are left out."""
        omitted = self.spool.omitted(block) if self.spool is not None else set()
        pairs = [*block.key.items(), *[(a, block.attributes[a]) for a in self.layout.block_attributes
                                       if a in block.attributes and a not in omitted]]
        return self.escape(pairs)

    def escape(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(c, xml_attribute(v) if c in self.escaped else v) for c, v in pairs]

    @abstractmethod
    def group(self, group: OutputGroup) -> str:
        """One Group element: the group key and the attributes attached to the group."""

    def fill(self, block: Block, components: list[str], before: str, after: str) -> tuple[str, list[list[str]]]:
        """A template and the lists that fill it, one ``{}`` per component the block holds.

        Each value is written as ``before`` + value + ``after`` (``{id}`` there is the component). When every
        observation has a value, ``before`` and ``after`` go into the template and the values fill it as they
        are; otherwise the list holds the whole fragment, or "" where an observation has none. A deletion
        carries no measure value.
        """
        template, lists = [], []
        for component in components:
            values = block.observations.get(component)
            if values is None or (block.deleted and component == self.layout.measure):
                continue
            if component in self.escaped:
                values = [None if v is None else xml_attribute(v) for v in values]
            head, tail = before.replace("{id}", component), after
            if None in values:
                template.append("{}")
                lists.append(["" if v is None else head + v + tail for v in values])
            else:
                template.append(literal(head) + "{}" + literal(tail))
                lists.append(cast(list[str], values))
        return "".join(template), lists

    @abstractmethod
    def block(self, block: Block) -> str:
        """The block as message text: a Series with its observations, or flat observations."""


class _StructureSpecific(_Writer):
    """``<Series KEY="..." ATTR="..."><Obs TIME_PERIOD="..." OBS_VALUE="..."/></Series>`` (SDMX-ML 2.1 and
    3.0 structure-specific data; AllDimensions: ``<Obs>`` with the whole key and every attribute)."""

    def group(self, group: OutputGroup) -> str:
        pairs = "".join(f' {c}="{v}"' for c, v in self.escape([*group.key.items(), *group.attributes.items()]))
        return f'<Group xsi:type="ns1:{group.id}"{pairs}/>'

    def block(self, block: Block) -> str:
        pairs = "".join(f' {c}="{v}"' for c, v in self.block_values(block))
        fields, lists = self.fill(block, self.layout.obs_components, ' {id}="', '"')
        if self.layout.flat:  # every observation carries the series key and attributes
            return "".join(map(("<Obs" + literal(pairs) + fields + "/>").format, *lists))
        if not self.with_obs:
            return f"<Series{pairs}/>"
        return f"<Series{pairs}>" + "".join(map(("<Obs" + fields + "/>").format, *lists)) + "</Series>"


class _Generic(_Writer):
    """``<gen:Series><gen:SeriesKey/><gen:Attributes/><gen:Obs>`` with ``<gen:ObsDimension/>``,
    ``<gen:ObsValue/>`` and ``<gen:Attributes/>`` (SDMX-ML 2.1 generic data; AllDimensions: ``<gen:Obs>``
    with ``<gen:ObsKey>`` and every attribute)."""

    def group(self, group: OutputGroup) -> str:
        key = "".join(f'<gen:Value id="{c}" value="{v}"/>' for c, v in self.escape(group.key.items()))
        attributes = "".join(f'<gen:Value id="{c}" value="{v}"/>' for c, v in self.escape(group.attributes.items()))
        return (f'<gen:Group type="{group.id}"><gen:GroupKey>{key}</gen:GroupKey>'
                f"<gen:Attributes>{attributes}</gen:Attributes></gen:Group>")

    def block(self, block: Block) -> str:
        layout = self.layout
        pairs = self.block_values(block)
        key = "".join(f'<gen:Value id="{c}" value="{v}"/>' for c, v in pairs[:len(block.key)])
        attributes = "".join(f'<gen:Value id="{c}" value="{v}"/>' for c, v in pairs[len(block.key):])
        value = '<gen:Value id="{id}" value="', '"/>'
        dimension, dimension_lists = self.fill(block, [layout.obs_dimension], *(
            value if layout.flat else ('<gen:ObsDimension value="', '"/>')))
        measure, measure_lists = self.fill(block, [layout.measure], '<gen:ObsValue value="', '"/>')
        obs_attributes, attribute_lists = self.fill(block, layout.obs_attributes, *value)
        lists = [*dimension_lists, *measure_lists, *attribute_lists]
        if layout.flat:
            template = ("<gen:Obs><gen:ObsKey>" + literal(key) + dimension + "</gen:ObsKey>" + measure
                        + "<gen:Attributes>" + literal(attributes) + obs_attributes + "</gen:Attributes></gen:Obs>")
            return _drop_empty("".join(map(template.format, *lists)))
        head = f"<gen:Series><gen:SeriesKey>{key}</gen:SeriesKey>"
        if attributes:
            head += f"<gen:Attributes>{attributes}</gen:Attributes>"
        if not self.with_obs:
            return head + "</gen:Series>"
        template = ("<gen:Obs>" + dimension + measure + "<gen:Attributes>" + obs_attributes
                    + "</gen:Attributes></gen:Obs>")
        return head + _drop_empty("".join(map(template.format, *lists))) + "</gen:Series>"


def _drop_empty(text: str) -> str:
    """An observation with no attribute value carries no ``<gen:Attributes>`` (the element needs a child)."""
    return text.replace("<gen:Attributes></gen:Attributes>", "")
