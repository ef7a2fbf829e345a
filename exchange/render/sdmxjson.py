"""SDMX-JSON data messages 2.0.0 and 1.0 (sdmx-json field guides), written as a stream.

SDMX-JSON indexes component values: the structure lists the values of each dimension and attribute, and
series / observation keys are positions in those lists. The values are collected first with one
``SELECT DISTINCT`` per component (``Output.values``), so the observations themselves stream through once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from exchange.render import Output, text

FLUSH_BYTES = 64 * 1024
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
        "links": [{"urn": f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={out.agency}:{out.flow}({out.version})",
                   "rel": "dataflow"},
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


def render_v1(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield from _render(out, rows, "1.0")


def render_v2(out: Output, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    yield from _render(out, rows, "2.0.0")


def _render(out: Output, rows: Iterator[dict[str, Any]], version: str) -> Iterator[bytes]:  # noqa: C901
    schema = out.schema
    flat = out.dimension_at_observation == "AllDimensions"
    key = list(schema.key_components)
    series_dims = [] if flat else [c for c in key if c != out.dimension_at_observation]
    obs_dims = key if flat else [out.dimension_at_observation]
    attrs = [] if out.detail == "dataonly" else list(schema.attributes)
    obs_attrs = [a for a in attrs if flat or schema.level(a, out.dimension_at_observation) == "obs"]
    series_attrs = [a for a in attrs if a not in obs_attrs]
    index = {c: {(str(v) if c in key else text(schema, c, v)): i for i, v in enumerate((out.values or {}).get(c, []))}
             for c in key + attrs}
    meta = {"schema": SCHEMA_URL, "id": f"EXCHANGE_{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}", "test": False,
            "prepared": datetime.now(UTC).isoformat(timespec="seconds"), "contentLanguages": ["en"],
            "sender": {"id": "UNECE", "name": "UNECE exchange hub"}}
    structure = _structure(out, series_dims, obs_dims, series_attrs, obs_attrs)
    if version == "1.0":
        meta["schema"] = SCHEMA_URL.replace("2.0.0", "1.0")
        head = json.dumps({"meta": meta, "data": {"structure": _as_v1(structure, schema)}})
    else:
        head = json.dumps({"meta": meta, "data": {"structures": [structure]}})
    links = json.dumps([{"urn": structure["links"][0]["urn"], "rel": "dataflow"}])  # dataSet.links is required

    def opening(action: str) -> str:
        return ("{" + ('"structure": 0, ' if version != "1.0" else "") + f'"action": "{action}", "links": ' + links
                + ", " + ('"observations": {' if flat else '"series": {'))

    chunks = [head[:-2] + ', "dataSets": [' + opening("Replace")]
    size = 0
    current: str | None = None
    first_series = first_obs = True
    in_deletions = False

    def idx(component: str, value: Any) -> int:
        return index[component][str(value)]

    for row in rows:
        if row.get("_deleted") and not in_deletions:
            if not out.deletions:
                continue
            # updatedAfter: what was deleted since follows in a second dataset, action Delete (SDMX-JSON 2.0 4.2)
            chunks.append(("}}" if current is not None else "") + "}}," + opening("Delete"))
            in_deletions, current, first_series, first_obs = True, None, True, True
        obs_key = ":".join(str(idx(c, row[c.lower()])) for c in obs_dims)  # noqa: B023
        value = row.get(schema.measure.lower())
        observation = [value] + [None if row.get(a.lower()) is None else idx(a, text(schema, a, row[a.lower()]))
                                 for a in obs_attrs]
        if flat:
            chunks.append(("" if first_obs else ",") + json.dumps(obs_key) + ":" + json.dumps(observation))
            first_obs = False
        else:
            series_key = ":".join(str(idx(c, row[c.lower()])) for c in series_dims)
            if series_key != current:
                if current is not None:
                    chunks.append("}}")
                attributes = [None if row.get(a.lower()) is None else idx(a, text(schema, a, row[a.lower()]))
                              for a in series_attrs]
                chunks.append(("" if first_series else ",") + json.dumps(series_key) + ':{"attributes":'
                              + json.dumps(attributes) + ',"observations":{')
                first_series, first_obs, current = False, True, series_key
            chunks.append(("" if first_obs else ",") + json.dumps(obs_key) + ":" + json.dumps(observation))
            first_obs = False
        size += len(chunks[-1])
        if size > FLUSH_BYTES:
            yield "".join(chunks).encode()
            chunks, size = [], 0
    if current is not None:
        chunks.append("}}")
    if out.deletions and not in_deletions:  # the structure announced two datasets: the Delete one is empty
        chunks.append("}}," + opening("Delete"))
    chunks.append("}}]}}")
    yield "".join(chunks).encode()
