"""SDMX-ML 2.1 data output, streamed with ``lxml.etree.xmlfile`` (SDMXDataStructureSpecific.xsd, SDMXDataGeneric.xsd).

Rows arrive series by series (ordered by the dimensions, then the period), so a series is closed as soon
as its key changes; memory holds one row at a time. Deletions (``updatedAfter``) come last and go into a
second DataSet with ``action="Delete"``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from exchange import __version__
from exchange.render import Output, number
from exchange.render.xsd import data_namespace

V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"
MES, COM, SS, GEN = V21 + "message", V21 + "common", V21 + "data/structurespecific", V21 + "data/generic"
V30 = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/"
#: SDMX-ML 3.0 deltas: namespaces, the dataflow referenced by URN text, no dataScope (SDMXDataStructureSpecific.xsd 3.0)
NS30 = {"mes": V30 + "message", "com": V30 + "common", "ss": V30 + "data/structurespecific"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
FLUSH_BYTES = 64 * 1024


class _Layout:
    """Which components go on the Series element and which on Obs, for one dimensionAtObservation."""

    def __init__(self, out: Output) -> None:
        schema = out.schema
        self.flat = out.dimension_at_observation == "AllDimensions"
        at_obs = out.dimension_at_observation
        key = list(schema.key_components)
        self.obs_dims = key if self.flat else [at_obs]
        self.series_dims = [] if self.flat else [c for c in key if c != at_obs]
        attrs = [] if out.detail in ("dataonly", "serieskeysonly") else list(schema.attributes)
        self.obs_attrs = [a for a in attrs if self.flat or schema.level(a, at_obs) == "obs"]
        self.series_attrs = [a for a in attrs if a not in self.obs_attrs]
        self.measure = schema.measure
        self.measure_column = schema.measure.lower()
        self.with_obs = out.detail not in ("serieskeysonly", "nodata")
        self.series_columns = [c.lower() for c in self.series_dims]
        # (component, column) pairs, computed once: the per-observation loop does no string work
        self.obs_dim_columns = [(c, c.lower()) for c in self.obs_dims]
        self.obs_attr_columns = [(c, c.lower()) for c in self.obs_attrs]
        self.series_dim_columns = [(c, c.lower()) for c in self.series_dims]
        self.series_attr_columns = [(c, c.lower()) for c in self.series_attrs]

    def series_key(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return (*[row[c] for c in self.series_columns], bool(row.get("_deleted")))


def _values(out: Output, row: dict[str, Any], columns: list[tuple[str, str]]) -> dict[str, str]:
    values = {}
    for component, column in columns:
        value = row.get(column)
        if value is not None:
            values[component] = number(value) if isinstance(value, float) else str(value)
    return values


def _header(xf: Any, out: Output, structure_specific: bool, ns: dict[str, str]) -> None:
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
    usage = etree.SubElement(structure, f"{{{com}}}StructureUsage")
    if mes == MES:
        etree.SubElement(usage, "Ref", agencyID=out.agency, id=out.flow, version=out.version)
    else:
        usage.text = urn  # SDMX-ML 3.0 references by URN
    if mes == MES:  # 3.0 Source is a different type; left out
        etree.SubElement(header, f"{{{mes}}}Source", {"{http://www.w3.org/XML/1998/namespace}lang": "en"}).text = (
            f"exchange {__version__}")
    xf.write(header)


def _flow_urn(out: Output) -> str:
    return f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={out.agency}:{out.flow}({out.version})"


def render_structure_specific(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield from _render(out, rows, structure_specific=True, root_tag="StructureSpecificData")


def render_structure_specific_ts(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield from _render(out, rows, structure_specific=True, root_tag="StructureSpecificTimeSeriesData")


def render_structure_specific_30(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield from _render(out, rows, structure_specific=True, root_tag="StructureSpecificData", ns=NS30)


def render_generic(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield from _render(out, rows, structure_specific=False, root_tag="GenericData")


def render_generic_ts(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield from _render(out, rows, structure_specific=False, root_tag="GenericTimeSeriesData")


def _render(out: Output, rows: Iterator[dict[str, Any]], structure_specific: bool,  # noqa: C901
            root_tag: str, ns: dict[str, str] | None = None) -> Iterator[bytes]:
    layout = _Layout(out)
    buffer = io.BytesIO()
    ns = ns or {"mes": MES, "com": COM, "ss": SS}
    mes = ns["mes"]
    nsmap = {"mes": mes, "com": ns["com"], "xsi": XSI, ("ss" if structure_specific else "gen"): ns["ss"]
             if structure_specific else GEN}
    if structure_specific:  # the DSD-specific namespace, whose DataSetType the DataSet names (GET /schema)
        nsmap["ns1"] = data_namespace(_flow_urn(out), out.dimension_at_observation)
    with etree.xmlfile(buffer, encoding="utf-8", buffered=False) as xf:
        xf.write_declaration()
        with xf.element(f"{{{mes}}}{root_tag}", nsmap=nsmap):
            _header(xf, out, structure_specific, ns)
            dataset_ctx = series_ctx = None
            current_key: tuple[Any, ...] | None = None
            dataset_key: tuple[Any, ...] | None = None
            for row in rows:
                row_deleted = bool(row.get("_deleted"))
                row_dataset = (row.get("_submission") if out.history else None, row_deleted)
                if row_dataset != dataset_key:  # open a (new) DataSet
                    if series_ctx is not None:
                        series_ctx.__exit__(None, None, None)
                        series_ctx = None
                    if dataset_ctx is not None:
                        dataset_ctx.__exit__(None, None, None)
                    dataset_key = row_dataset
                    attrs = _dataset_attrs(structure_specific, row_deleted, ns)
                    if out.history:  # REST includeHistory: when these values became (or stopped being) valid
                        name = "validToDate" if row_deleted else "validFromDate"
                        attrs[f"{{{ns['ss']}}}{name}" if structure_specific else name] = _instant(row["_recorded_at"])
                    dataset_ctx = xf.element(f"{{{mes}}}DataSet", attrs)
                    dataset_ctx.__enter__()
                    current_key = None
                if not layout.flat:
                    key = layout.series_key(row)
                    if key != current_key:
                        if series_ctx is not None:
                            series_ctx.__exit__(None, None, None)
                        series_ctx = _open_series(xf, out, layout, row, structure_specific)
                        current_key = key
                if layout.with_obs:
                    xf.write(_obs(out, layout, row, structure_specific))
                if buffer.tell() > FLUSH_BYTES:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            if series_ctx is not None:
                series_ctx.__exit__(None, None, None)
            if dataset_ctx is not None:
                dataset_ctx.__exit__(None, None, None)
            else:  # no observation: an empty dataset still names the structure
                with xf.element(f"{{{mes}}}DataSet", _dataset_attrs(structure_specific, False, ns)):
                    pass
    yield buffer.getvalue()


def _instant(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _dataset_attrs(structure_specific: bool, deleted: bool, ns: dict[str, str]) -> dict[str, str]:
    action = "Delete" if deleted else "Replace"
    if not structure_specific:
        return {"action": action, "structureRef": "STR1"}
    # Structure-specific set attributes are namespace-qualified (SetAttributeGroup, form="qualified"); the
    # concrete type comes from the DSD-specific schema (SDMX 2.1 Section 3B; GET /schema).
    attrs = {f"{{{XSI}}}type": "ns1:DataSetType", f"{{{ns['ss']}}}action": action, f"{{{ns['ss']}}}structureRef": "STR1"}
    if ns["ss"] == SS:  # 2.1 only; SDMX-ML 3.0 dropped dataScope
        attrs[f"{{{SS}}}dataScope"] = "Dataflow"
    return attrs


def _open_series(xf: Any, out: Output, layout: _Layout, row: dict[str, Any], structure_specific: bool) -> Any:
    dims = _values(out, row, layout.series_dim_columns)
    attrs = _values(out, row, layout.series_attr_columns)
    if structure_specific:
        ctx = xf.element("Series", {**dims, **attrs})
        ctx.__enter__()
        return ctx
    ctx = xf.element(f"{{{GEN}}}Series")
    ctx.__enter__()
    xf.write(_generic_values("SeriesKey", dims))
    if attrs:
        xf.write(_generic_values("Attributes", attrs))
    return ctx


def _generic_values(tag: str, values: dict[str, str]) -> Any:
    block = etree.Element(f"{{{GEN}}}{tag}")
    for component, value in values.items():
        etree.SubElement(block, f"{{{GEN}}}Value", id=component, value=value)
    return block


def _obs(out: Output, layout: _Layout, row: dict[str, Any], structure_specific: bool) -> Any:
    dims = _values(out, row, layout.obs_dim_columns)
    attrs = _values(out, row, layout.obs_attr_columns)
    raw = row.get(layout.measure_column)
    value = None if raw is None else (number(raw) if isinstance(raw, float) else str(raw))
    if structure_specific:
        obs = etree.Element("Obs", dims)
        if value is not None and not row.get("_deleted"):
            obs.set(layout.measure, value)
        for component, attr_value in attrs.items():
            obs.set(component, attr_value)
        return obs
    obs = etree.Element(f"{{{GEN}}}Obs")
    if layout.flat:
        obs.append(_generic_values("ObsKey", dims))
    else:
        etree.SubElement(obs, f"{{{GEN}}}ObsDimension", value=dims[layout.obs_dims[0]])
    if value is not None and not row.get("_deleted"):
        etree.SubElement(obs, f"{{{GEN}}}ObsValue", value=value)
    if attrs:
        obs.append(_generic_values("Attributes", attrs))
    return obs
