"""SDMX-JSON data messages 2.0.0 and 1.0 (sdmx-json field guides), written as a stream.

SDMX-JSON indexes component values: the structure lists the values of each dimension and attribute, and
series / observation keys are positions in those lists. The values are collected first with one
``SELECT DISTINCT`` per component (``Output.values``), so the series blocks themselves stream through once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast

from exchange.render import Output, text
from exchange.render.blocks import Block, Layout, literal

FLUSH_OBSERVATIONS = 2000  # observations per chunk sent
SCHEMA_URL = ("https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/data-message/tools/schemas/2.0.0/"
              "sdmx-json-data-schema.json")


def _component_values(out: Output, component: str) -> list[dict[str, Any]]:
    names = (out.names or {}).get(component, {})
    values = (out.values or {}).get(component, [])
    if component == out.schema.time_dimension:
        return [{"value": str(v)} for v in values]
    rule = out.schema.components[component]
    if rule.codes is None:
        return [{"value": text(out.schema, component, v)} for v in values]
    return [{"id": str(v), "name": names.get(str(v), str(v))} for v in values]


def _structure(out: Output, series_dims: list[str], obs_dims: list[str], series_attrs: list[str],
               obs_attrs: list[str]) -> dict[str, Any]:
    schema = out.schema
    positions = {c: i for i, c in enumerate(schema.key_components)}

    def dimension(component: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": component, "name": component, "keyPosition": positions[component],
                                 "values": _component_values(out, component) or [{"value": ""}]}
        if component == schema.time_dimension:
            entry["roles"] = ["TIME_PERIOD"]
        return entry

    def attribute(component: str, level: str) -> dict[str, Any]:
        rule = schema.components[component]
        relationship: dict[str, Any] = {"observation": {}} if level == "obs" else {"dimensions": sorted(rule.related)}
        values: list[Any] = list(_component_values(out, component)) or [None]
        return {"id": component, "name": component, "isMandatory": rule.mandatory, "relationship": relationship,
                "values": values}

    return {
        "dataSets": [0, 1] if out.deletions else [0],
        "links": [{"urn": out.urn,
                   "rel": out.kind},
                  {"urn": schema.urn, "rel": "datastructure"}],
        "name": schema.name,
        "dimensions": {"dataSet": [], "series": [dimension(d) for d in series_dims],
                       "observation": [dimension(d) for d in obs_dims]},
        "measures": {"observation": [{"id": schema.measure, "name": schema.measure}]},
        "attributes": {"dataSet": [], "series": [attribute(a, "series") for a in series_attrs],
                       "observation": [attribute(a, "obs") for a in obs_attrs]},
    }


def _as_v1(structure: dict[str, Any], schema: Any) -> dict[str, Any]:
    """The 1.0 layout of a structure: one structure, id+name values, no measures, 1.0 relationships."""
    def values_v1(values: list[Any]) -> list[Any]:
        return [v if v is None or "id" in v else {"id": str(v["value"]), "name": str(v["value"])} for v in values]

    dims = {level: [{**d, "values": values_v1(d["values"])} for d in items]
            for level, items in structure["dimensions"].items()}
    attrs = {}
    for level, items in structure["attributes"].items():
        attrs[level] = [{**a, "values": [v if v is None or "id" in v else {"name": str(v["value"])} for v in a["values"]],
                         "relationship": {"primaryMeasure": schema.measure} if "observation" in a["relationship"]
                         else a["relationship"]} for a in items]
    return {"links": structure["links"], "name": structure["name"], "dimensions": dims, "attributes": attrs}


def render_v1(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    yield from _render(out, blocks, "1.0")


def render_v2(out: Output, blocks: Iterator[Block]) -> Iterator[bytes]:
    yield from _render(out, blocks, "2.0.0")


def _render(out: Output, blocks: Iterator[Block], version: str) -> Iterator[bytes]:
    schema = out.schema
    layout = Layout(out)
    key = list(schema.key_components)
    series_dims = [] if layout.flat else layout.group_dimensions
    obs_dims = key if layout.flat else [layout.obs_dimension]
    obs_attrs = layout.attributes if layout.flat else layout.obs_attributes
    series_attrs = [] if layout.flat else layout.block_attributes
    index = {c: {(str(v) if c in key else text(schema, c, v) or ""): str(i)
                 for i, v in enumerate((out.values or {}).get(c, []))} for c in key + layout.attributes}
    meta = {"schema": SCHEMA_URL, "id": f"EXCHANGE_{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}", "test": False,
            "prepared": datetime.now(UTC).isoformat(timespec="seconds"), "contentLanguages": ["en"],
            "sender": {"id": "UNECE", "name": "UNECE exchange hub"}}
    structure = _structure(out, series_dims, obs_dims, series_attrs, obs_attrs)
    if version == "1.0":
        meta["schema"] = SCHEMA_URL.replace("2.0.0", "1.0")
        head = json.dumps({"meta": meta, "data": {"structure": _as_v1(structure, schema)}})
    else:
        head = json.dumps({"meta": meta, "data": {"structures": [structure]}})
    links = json.dumps([{"urn": structure["links"][0]["urn"], "rel": out.kind}])  # dataSet.links is required

    def opening(action: str) -> str:
        return ("{" + ('"structure": 0, ' if version != "1.0" else "") + f'"action": "{action}", "links": ' + links
                + ", " + ('"observations": {' if layout.flat else '"series": {'))

    measure = _measure_column(out)
    chunks = [head[:-2] + ', "dataSets": [' + opening("Replace")]
    size, first, in_deletions = 0, True, False
    for block in blocks:
        if block.deleted and not in_deletions:
            if not out.deletions:
                continue
            # updatedAfter: what was deleted since follows in a second dataset, action Delete (SDMX-JSON 2.0 4.2)
            chunks.append("}}," + opening("Delete"))
            in_deletions, first = True, True
        # observation key -> [value, attribute value positions...], as JSON text (keys are positions too)
        values = block.observations.get(schema.measure)
        cells: list[Cell] = [_positions(block, obs_dims, index, layout.obs_dimension),
                             ["null"] * len(block) if values is None else measure(values)]
        cells += [_attribute(block, a, index[a]) for a in obs_attrs]
        template = '"{}":[' + ",".join("{}" if isinstance(c, list) else literal(c) for c in cells[1:]) + "]"
        observations = ",".join(map(template.format, *[c for c in cells if isinstance(c, list)]))
        if layout.flat:
            chunks.append(("" if first else ",") + observations)
        else:
            series_key = ":".join(index[c][block.key[c]] for c in series_dims)
            attributes = "[" + ",".join(index[a][block.attributes[a]] if a in block.attributes else "null"
                                        for a in series_attrs) + "]"
            chunks.append(("" if first else ",") + f'"{series_key}":{{"attributes":{attributes},"observations":{{'
                          + observations + "}}")
        first = False
        size += len(block)
        if size >= FLUSH_OBSERVATIONS:
            yield "".join(chunks).encode()
            chunks, size = [], 0
    if out.deletions and not in_deletions:  # the structure announced two datasets: the Delete one is empty
        chunks.append("}}," + opening("Delete"))
    chunks.append("}}]}}")
    yield "".join(chunks).encode()


#: a block's part of every observation: one JSON text for all, or one per observation
Cell = str | list[str]


def _positions(block: Block, dims: list[str], index: dict[str, dict[str, str]], varying: str) -> list[str]:
    """Each observation's key as positions in the structure's value lists, joined by ":"."""
    template = ":".join("{}" if c == varying else literal(index[c][block.key[c]]) for c in dims)
    codes = cast(list[str], block.observations[varying])  # a key component always has a value
    return list(map(template.format, map(index[varying].__getitem__, codes)))


def _attribute(block: Block, component: str, positions: dict[str, str]) -> Cell:
    """An attribute's value position ("null" where absent) for the block, or for each observation."""
    if component in block.observations:
        return ["null" if v is None else positions[v] for v in block.observations[component]]
    value = block.attributes.get(component)
    return "null" if value is None else positions[value]


_NOT_JSON_NUMBERS = ("NaN", "INF", "-INF")


def _measure_column(out: Output) -> Callable[[list[str | None]], list[str]]:
    """The observation values as JSON: numbers for a numeric measure (NaN and infinities, which JSON cannot
    write, as null), strings otherwise."""
    rule = out.schema.components[out.schema.measure]
    return _json_numbers if rule.numeric and rule.codes is None else _json_strings


def _json_numbers(values: list[str | None]) -> list[str]:
    if None not in values and not any(v in values for v in _NOT_JSON_NUMBERS):
        return cast(list[str], values)  # as they are: the common case costs no per-value call
    return ["null" if v is None or v in _NOT_JSON_NUMBERS else v for v in values]


def _json_strings(values: list[str | None]) -> list[str]:
    return ["null" if v is None else json.dumps(v) for v in values]
