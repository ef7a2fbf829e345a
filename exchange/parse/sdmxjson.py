"""SDMX-JSON data messages 1.0, 2.0 and 2.1 (sdmx-json field guides), as a pushed message.

SDMX-JSON indexes every component value in the structure part and refers to positions in it, so the
document is read whole (``json.load``) and then walked dataset by dataset; the upload cap bounds it.
Series keys and observation keys are positions in the ``series`` and ``observation`` dimension lists;
an observation array holds the measure value(s) first, then the observation attributes' value indexes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from exchange.rows import Action, DataSet, MessageError, Obs, StructureRef

_KINDS = {"dataflow": "dataflow", "datastructure": "datastructure", "provisionagreement": "provisionagreement"}


def parse(stream: BinaryIO) -> Iterator[Obs]:
    try:
        document = json.load(io.TextIOWrapper(stream, encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MessageError("NOT_UTF8", f"The JSON is not valid UTF-8 ({exc.reason}).", "Save the file as UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise MessageError("JSON_MALFORMED", f"The JSON cannot be read: {exc.msg}.", "Fix the JSON syntax at the "
                           "place named.", where=f"line {exc.lineno}, column {exc.colno}") from exc
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("dataSets"), list):
        raise MessageError("NOT_SDMX_DATA", "The JSON is not an SDMX-JSON data message (no data.dataSets).",
                           "Send an SDMX-JSON 1.0 or 2.0 data message.", status=415)
    structures = data.get("structures") or ([data["structure"]] if "structure" in data else [])
    for index, dataset in enumerate(data["dataSets"]):
        structure = structures[dataset.get("structure", 0)] if structures else {}
        yield from _dataset(index, dataset, structure)


def _value(component: dict[str, Any], position: Any) -> str | None:
    if position is None:
        return None
    values = component.get("values", [])
    try:
        entry = values[int(position)]
    except (IndexError, ValueError, TypeError) as exc:
        raise MessageError("JSON_BAD_INDEX", f"{component.get('id')} has {len(values)} values in the structure; the "
                           f"message refers to value {position!r}.", "Make every index in the keys and observation "
                           "arrays point into the component's 'values' list.") from exc
    if entry is None:
        return None
    value = entry.get("id", entry.get("value"))
    return None if value is None else str(value)


def _reference(dataset: dict[str, Any], structure: dict[str, Any]) -> StructureRef | None:
    for link in [*dataset.get("links", []), *structure.get("links", [])]:
        kind = _KINDS.get(str(link.get("rel", "")).lower())
        urn = link.get("urn", "")
        if kind and "=" in urn:
            agency, rest = urn.split("=", 1)[1].split(":", 1)
            ident, version = rest.rstrip(")").split("(", 1)
            return StructureRef(kind, agency, ident, version)
    return None


def _dataset(index: int, dataset: dict[str, Any], structure: dict[str, Any]) -> Iterator[Obs]:
    dims, attrs = structure.get("dimensions", {}), structure.get("attributes", {})
    series_dims, obs_dims = dims.get("series", []), dims.get("observation", [])
    measures = structure.get("measures", {}).get("observation") or [{"id": "OBS_VALUE"}]
    values: dict[str, str] = {}
    for dim in dims.get("dataSet", []):
        value = _value(dim, 0)
        if value is not None:
            values[dim["id"]] = value
    for attr, position in zip(attrs.get("dataSet", []), dataset.get("attributes", []), strict=False):
        value = _value(attr, position)
        if value is not None:
            values[attr["id"]] = value
    at_obs = obs_dims[0]["id"] if len(obs_dims) == 1 and series_dims else "AllDimensions"
    action = Action.from_wire(dataset.get("action")) or Action.MERGE
    info = DataSet(index, _reference(dataset, structure), action, at_obs, values, f"dataSets[{index}]")
    for series_key, series in dataset.get("series", {}).items():
        key = {d["id"]: _value(d, p) for d, p in zip(series_dims, series_key.split(":"), strict=False)}
        for attr, position in zip(attrs.get("series", []), series.get("attributes", []), strict=False):
            key[attr["id"]] = _value(attr, position)
        series_values = {k: v for k, v in key.items() if v is not None}
        observations = series.get("observations", {})
        if not observations:
            yield Obs(info, series_values, {}, f"dataSets[{index}].series[{series_key}]")
        for obs_key, array in observations.items():
            yield Obs(info, series_values, _observation(obs_dims, measures, attrs, obs_key, array),
                      f"dataSets[{index}].series[{series_key}].observations[{obs_key}]")
    for obs_key, array in dataset.get("observations", {}).items():
        yield Obs(info, {}, _observation(obs_dims, measures, attrs, obs_key, array),
                  f"dataSets[{index}].observations[{obs_key}]")


def _observation(obs_dims: list[dict[str, Any]], measures: list[dict[str, Any]], attrs: dict[str, Any],
                 obs_key: str, array: list[Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for dim, position in zip(obs_dims, obs_key.split(":"), strict=False):
        value = _value(dim, position)
        if value is not None:
            values[dim["id"]] = value
    for measure, value in zip(measures, array, strict=False):
        if value is not None:
            values[measure["id"]] = str(value)
    for attr, position in zip(attrs.get("observation", []), array[len(measures):], strict=False):
        value = _value(attr, position)
        if value is not None:
            values[attr["id"]] = value
    return values
