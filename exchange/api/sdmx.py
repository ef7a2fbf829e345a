"""SDMX REST data queries, API 1.5 (``/data/{flowRef}/{key}/{providerRef}``) and 2.x
(``/data/{context}/{agency}/{id}/{version}/{key}``), streamed in the negotiated SDMX format."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from exchange.api import caching
from exchange.api.contract import sdmx_errors
from exchange.api.deps import HubDep
from exchange.api.errors import sdmx_error
from exchange.catalog import DsdSchema
from exchange.hub import Hub
from exchange.media import ANY_XML, ranked_accept
from exchange.query import DataQuery, QueryError, parse_v1, parse_v2
from exchange.render import Output, Renderer, sdmxcsv, sdmxjson, sdmxml21
from exchange.render.blocks import Block, Layout, blocks_from_rows
from exchange.rows import StructureRef
from exchange.stats import derived
from exchange.store.read import count_rows, distinct_values, series_blocks

router = APIRouter(tags=["SDMX REST"])


@dataclass(frozen=True)
class Representation:
    media_type: str
    renderer: Renderer
    time_series_only: bool = False
    indexed: bool = False  # needs the values of each component up front (SDMX-JSON)


GENERIC = Representation("application/vnd.sdmx.genericdata+xml;version=2.1", sdmxml21.render_generic)
REPRESENTATIONS = {
    "application/vnd.sdmx.genericdata+xml": GENERIC,
    "application/vnd.sdmx.structurespecificdata+xml": Representation(
        "application/vnd.sdmx.structurespecificdata+xml;version=2.1", sdmxml21.render_structure_specific),
    "application/vnd.sdmx.generictimeseriesdata+xml": Representation(
        "application/vnd.sdmx.generictimeseriesdata+xml;version=2.1", sdmxml21.render_generic_ts, True),
    "application/vnd.sdmx.structurespecifictimeseriesdata+xml": Representation(
        "application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1",
        sdmxml21.render_structure_specific_ts, True),
    "application/vnd.sdmx.data+csv;version=1.0.0": Representation(
        "application/vnd.sdmx.data+csv;version=1.0.0", sdmxcsv.render_v1),
    "application/vnd.sdmx.data+csv;version=2.0.0": Representation(
        "application/vnd.sdmx.data+csv;version=2.0.0", sdmxcsv.render_v2),
    "application/vnd.sdmx.data+xml;version=3.0.0": Representation(
        "application/vnd.sdmx.data+xml;version=3.0.0", sdmxml21.render_structure_specific_30),
    "application/vnd.sdmx.data+json;version=2.0.0": Representation(
        "application/vnd.sdmx.data+json;version=2.0.0", sdmxjson.render_v2, indexed=True),
    "application/vnd.sdmx.data+json;version=1.0.0": Representation(
        "application/vnd.sdmx.data+json;version=1.0.0", sdmxjson.render_v1, indexed=True),
}
JSON_2 = REPRESENTATIONS["application/vnd.sdmx.data+json;version=2.0.0"]
#: ?format= values for browsers (REST doc/extend.md allows format as a query parameter).
FORMATS = {"genericdata": "application/vnd.sdmx.genericdata+xml",
           "structurespecificdata": "application/vnd.sdmx.structurespecificdata+xml",
           "generictimeseriesdata": "application/vnd.sdmx.generictimeseriesdata+xml",
           "structurespecifictimeseriesdata": "application/vnd.sdmx.structurespecifictimeseriesdata+xml",
           "csv": "application/vnd.sdmx.data+csv;version=2.0.0", "sdmx-csv": "application/vnd.sdmx.data+csv;version=2.0.0",
           "csv10": "application/vnd.sdmx.data+csv;version=1.0.0", "json": "application/vnd.sdmx.data+json;version=2.0.0",
           "sdmx-json": "application/vnd.sdmx.data+json;version=2.0.0",
           "sdmx-ml-3.0": "application/vnd.sdmx.data+xml;version=3.0.0"}


class NotAcceptable(Exception):
    pass


def negotiate(accept: str | None, format_param: str | None, api: str) -> Representation:
    """Pick the representation: ?format= first, then Accept (q-values honoured), else the default."""
    if format_param:
        if format_param not in FORMATS:
            raise NotAcceptable(f"format={format_param} is not offered; use one of {', '.join(sorted(FORMATS))}.")
        return REPRESENTATIONS[FORMATS[format_param]]
    for base, params in ranked_accept(accept):
        if base in ("*/*", "application/*") and api == "2":
            return JSON_2  # REST 2.x: SDMX-JSON is the default (doc/tips.md)
        chosen = _match(base, params)
        if chosen is not None:
            return chosen
    raise NotAcceptable(f"None of {accept!r} is offered for data; offered: "
                        + ", ".join(r.media_type for r in REPRESENTATIONS.values()) + ".")


def _match(base: str, params: dict[str, str]) -> Representation | None:
    version = params.get("version")
    if base in ANY_XML:
        return GENERIC  # REST 1.5 4_6_conneg.md: Generic Data is the default
    if base == "application/vnd.sdmx.data+xml":
        return REPRESENTATIONS["application/vnd.sdmx.data+xml;version=3.0.0"] if version in (None, "3.0.0", "3.0") \
            else None
    if base in ("application/vnd.sdmx.data+json", "application/json"):
        if version in ("1.0.0", "1.0"):
            return REPRESENTATIONS["application/vnd.sdmx.data+json;version=1.0.0"]
        return JSON_2 if version in (None, "2.0.0", "2.0") else None
    if base in ("application/vnd.sdmx.data+csv", "text/csv"):
        return REPRESENTATIONS[f"application/vnd.sdmx.data+csv;version={version or '2.0.0'}"] \
            if (version or "2.0.0") in ("1.0.0", "2.0.0") else None
    chosen = REPRESENTATIONS.get(base)
    if chosen is not None and version not in (None, "2.1"):
        return None
    return chosen


@router.get("/data/{path:path}", summary="SDMX data query (REST 1.5 and 2.x syntax)",
            responses=sdmx_errors(204, 304, 404, 406, 413, 501))
def get_data(path: str, request: Request, hub: HubDep) -> Response:
    """``/data/{flowRef}/{key}/{providerRef}`` (1.5) or ``/data/{context}/{agency}/{id}/{version}/{key}`` (2.x).

    Empty results: 404 in 1.5, 204 in 2.x. Bad syntax: 400. Unsupported representation: 406.
    """
    params = dict(request.query_params)
    accept = request.headers.get("accept")
    validators = caching.data_validators(hub, request)
    if caching.not_modified(request, validators):
        return Response(status_code=304, headers=validators)
    try:
        query = _parse(path, params)
        representation = negotiate(request.headers.get("accept"), params.get("format"), query.api)
        csv_version = ("1.0" if representation.renderer is sdmxcsv.render_v1 else
                       "2.0" if representation.renderer is sdmxcsv.render_v2 else None)
        csv_options = _csv_options(request.headers.get("accept"), params, csv_version) if csv_version else None
        schema, flow_key = _resolve(hub, query)
        output = _output(schema, flow_key, query, representation)
        _check_size(hub, schema, query)
        derived_rows = _derived_rows(hub, schema, query) if _is_derived(hub, schema, query) else None
        # SDMX-JSON indexes values up front: for stored data they are read in the series' own transaction
        stored_values: dict[str, list[Any]] | None = {} if representation.indexed and derived_rows is None else None
        blocks = _blocks(hub, schema, query, output, derived_rows, stored_values)
        first = next(blocks, None)  # also builds the SELECT: key and filter errors surface here, before streaming
    except QueryError as exc:
        return sdmx_error(400, str(exc), accept)
    except NotAcceptable as exc:
        return sdmx_error(406, str(exc), accept)
    except LookupError as exc:
        return sdmx_error(404, str(exc), accept)
    except NotOffered as exc:
        return sdmx_error(501, str(exc), accept)
    except TooLarge as exc:
        return sdmx_error(413, str(exc), accept)
    if first is None:
        return Response(status_code=204) if query.api == "2" else sdmx_error(404, "No results found.", accept)
    if representation.indexed:
        output = _indexed(hub, schema, output, derived_rows, stored_values)
    blocks = _chain(first, blocks)
    if csv_options is not None:
        output = dataclasses.replace(output, labels=csv_options["labels"], time_format=csv_options["timeFormat"],
                                     keys=csv_options["keys"],
                                     names=_labels(hub, schema) if csv_options["labels"] != "id" else None)
    body = representation.renderer(output, blocks)
    return StreamingResponse(body, media_type=representation.media_type,
                             headers={"Vary": "Accept, Accept-Encoding", **validators})


def _parse(path: str, params: dict[str, str]) -> DataQuery:
    parts = path.split("/")
    if parts and parts[0] in ("dataflow", "datastructure", "provisionagreement", "*"):
        parts += ["*"] * (5 - len(parts)) if len(parts) < 5 else []
        if len(parts) > 5:
            raise QueryError("Too many path segments: /data/{context}/{agencyID}/{resourceID}/{version}/{key}.")
        context, agency, flow, version, key = parts
        return parse_v2(context, agency, flow, version, key, params)
    if not parts or not parts[0] or len(parts) > 3:
        raise QueryError("Use /data/{flowRef}/{key}/{providerRef} (REST 1.5) or "
                         "/data/{context}/{agencyID}/{resourceID}/{version}/{key} (REST 2.x).")
    key_v1 = parts[1] if len(parts) > 1 else None
    provider = parts[2] if len(parts) > 2 else None
    return parse_v1(parts[0], key_v1, provider, params)


def _resolve(hub: Hub, query: DataQuery) -> tuple[DsdSchema, tuple[str, str, str]]:
    """The schema and (agency, id, version) of the dataflow - or, for REST 2.x context ``datastructure``, the
    DSD - a query names. A DSD's data is every dataset stored against it, dataflow or not (issue #11 class 6)."""
    kind = "datastructure" if query.context == "datastructure" else "dataflow"
    table = hub.catalog.dsd_schemas if kind == "datastructure" else hub.catalog.schemas
    candidates = [k for k in table if k[1] == query.flow and (query.agency in (None, k[0]))
                  and (query.version in (None, k[2]))]
    if not candidates:
        raise LookupError(f"No {kind} {query.agency or '*'}:{query.flow}({query.version or 'latest'}).")
    flow_key = hub.catalog.structure_key(StructureRef(kind, candidates[0][0], query.flow, query.version or ""))
    assert flow_key is not None
    return table[flow_key], flow_key


def _output(schema: DsdSchema, flow_key: tuple[str, str, str], query: DataQuery,
            representation: Representation) -> Output:
    at_obs = query.dimension_at_observation or schema.time_dimension or "AllDimensions"
    if at_obs != "AllDimensions" and at_obs not in schema.key_components:
        raise QueryError(f"dimensionAtObservation={at_obs} is not a dimension of {schema.ref}.")
    if representation.time_series_only and at_obs != schema.time_dimension:
        raise NotAcceptable("The time-series formats need dimensionAtObservation=TIME_PERIOD.")
    detail = query.detail if query.api == "1.5" else ("dataonly" if query.attributes == "none" else "full")
    deletions = query.updated_after is not None and query.as_of is None and not query.include_history
    kind = "datastructure" if query.context == "datastructure" else "dataflow"
    return Output(schema, *flow_key, dimension_at_observation=at_obs, detail=detail, history=query.include_history,
                  deletions=deletions, kind=kind)


def _is_derived(hub: Hub, schema: DsdSchema, query: DataQuery) -> bool:
    if query.context == "datastructure":
        return False  # a DSD's data is what was stored against it
    return hub.catalog.is_derived(StructureRef("dataflow", schema.agency, query.flow, query.version or ""))


def _blocks(hub: Hub, schema: DsdSchema, query: DataQuery, output: Output, derived_rows: list[dict[str, Any]] | None,
            values: dict[str, list[Any]] | None) -> Iterator[Block]:
    """The answer's series blocks; for stored data, first fills ``values`` (each component's values) when
    given, in the same read transaction as the series, so a push landing in between cannot add a value the
    index lacks (SQLite: one deferred BEGIN reads one WAL snapshot; PostgreSQL: REPEATABLE READ)."""
    if derived_rows is not None:
        yield from blocks_from_rows(output, derived_rows)
        return
    table, layout = hub.tables.table(schema), Layout(output)
    options = {"isolation_level": "REPEATABLE READ"} if hub.engine.dialect.name == "postgresql" else {}
    with hub.engine.connect().execution_options(**options) as conn:
        if values is not None:
            values.update(distinct_values(conn, table, schema, query, layout))
        yield from series_blocks(conn, table, schema, query, layout)


def _indexed(hub: Hub, schema: DsdSchema, output: Output, derived_rows: list[dict[str, Any]] | None,
             stored_values: dict[str, list[Any]] | None) -> Output:
    """The output with each component's values (SDMX-JSON indexes them) and code names: read with the
    series for stored data (``_blocks``), collected from the computed rows for derived dataflows."""
    components = [*schema.key_components, *schema.attributes]
    values: dict[str, list[Any]] = stored_values or {}
    if derived_rows is not None:
        for component in components:
            seen = dict.fromkeys(r.get(component.lower()) for r in derived_rows)
            values[component] = [v for v in seen if v is not None]
            if component == schema.time_dimension:
                values[component].sort()
    names = {c: _code_names(hub, schema.components[c].codelist) for c in components if schema.components[c].codelist}
    return dataclasses.replace(output, values=values, names=names)


def _csv_options(accept: str | None, params: dict[str, str], csv_version: str) -> dict[str, str]:
    """SDMX-CSV ``labels``, ``timeFormat`` and (2.0) ``keys``, from the Accept parameters or the query string."""
    options = {"labels": "id", "timeFormat": "original", "keys": "none"}
    for _base, accepted in ranked_accept(accept):
        options.update({name: value for name, value in accepted.items() if name in options})
    options.update({k: v for k, v in params.items() if k in options})
    labels = ("id", "both") if csv_version == "1.0" else ("id", "name", "both")
    if options["labels"] not in labels:
        raise NotAcceptable(f"labels={options['labels']} is not offered in SDMX-CSV {csv_version}; use "
                            f"{' or '.join(labels)}.")
    if options["keys"] not in ("none", "series", "obs", "both") or (csv_version == "1.0" and options["keys"] != "none"):
        raise NotAcceptable(f"keys={options['keys']} is not offered in SDMX-CSV {csv_version}; "
                            + ("keys are a 2.0 option." if csv_version == "1.0" else "use none, series, obs or both."))
    if options["timeFormat"] not in ("original", "normalized"):
        raise NotAcceptable(f"timeFormat={options['timeFormat']} is not offered; use original or normalized.")
    return options


def _labels(hub: Hub, schema: DsdSchema) -> dict[str, dict[str, str]]:
    """Names for labels=both: code names per coded component, and concept names under the key ''."""
    names = {c: _code_names(hub, schema.components[c].codelist) for c in schema.components
             if schema.components[c].codelist}
    concepts: dict[str, str] = {}
    for scheme in hub.catalog.concept_schemes.values():
        for concept in scheme:
            concepts.setdefault(concept.id, str(concept.name))
    names[""] = concepts
    return names


def _code_names(hub: Hub, codelist_ref: str | None) -> dict[str, str]:
    for key, codelist in hub.catalog.codelists.items():
        if f"{key[0]}:{key[1]}({key[2]})" == codelist_ref:
            return {code.id: str(code.name) for code in codelist}
    return {}


class TooLarge(Exception):
    """The answer would exceed the service's limit (REST: 413, SDMX error 510)."""


def _check_size(hub: Hub, schema: DsdSchema, query: DataQuery) -> None:
    limit = hub.settings.max_response_observations
    if not limit or _is_derived(hub, schema, query):
        return
    with hub.engine.connect() as conn:
        count = count_rows(conn, hub.tables.table(schema), schema, query)
    if count > limit:
        raise TooLarge(f"The answer holds {count} observations; this hub serves at most {limit} per request. "
                       "Narrow the key or the periods, or page with startPeriod/endPeriod.")


class NotOffered(Exception):
    """A feature the hub does not offer for this request: 501 (REST: "Not implemented"), named."""


DERIVED_ROWS = {"MIGR_MIRROR": derived.mirror_rows, "MIGR_CORR_FACTOR": derived.factor_rows,
                "MIGR_FLOW_AGG": derived.aggregate_rows}


def _derived_rows(hub: Hub, schema: DsdSchema, query: DataQuery) -> list[dict[str, Any]]:
    """Computed from the reported flows as they are now (or at ``asOf``), then filtered by key and period."""
    if query.filters or query.first_n or query.last_n or query.updated_after or query.include_history:
        raise NotOffered("For the derived dataflows the hub offers keys, startPeriod/endPeriod and asOf; not c[...], "
                         "firstNObservations, lastNObservations, updatedAfter or includeHistory.")
    patterns = query.key_patterns(schema.dimensions)
    flow_schema = hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW")
    assert flow_schema is not None
    columns = [d.lower() for d in schema.dimensions]
    with hub.engine.connect() as conn:
        source = derived.Source(conn, hub.tables.table(flow_schema), hub.catalog, query.as_of)
        kept = [row for row in DERIVED_ROWS[query.flow](source) if _matches(row, columns, patterns, query)]
    kept.sort(key=lambda row: tuple(str(row.get(c)) for c in columns) + (row["_period_start"] or "",))
    return kept


def _matches(row: dict[str, Any], columns: list[str], patterns: list[Any], query: DataQuery) -> bool:
    if patterns and not any(all(codes is None or row.get(c) in codes for c, codes in zip(columns, p, strict=True))
                            for p in patterns):
        return False
    if query.start_period and (row["_period_end"] or "") < query.start_period:
        return False
    return not (query.end_period and (row["_period_start"] or "") > query.end_period)


def _chain(first: Block, rest: Iterator[Block]) -> Iterator[Block]:
    yield first
    yield from rest
