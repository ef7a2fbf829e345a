"""Format-agnostic validation of parsed observations against the shared DSDs.

Each rule has a stable code (documented in the README, checked by tests/test_docs.py). Rules that
need the whole message (duplicates, conflicting series attributes) run on the staged rows in
``exchange.store.stage``; everything else runs here, one observation at a time, with set look-ups only.
Rule numbers refer to the validation table of reference/sdmx-standard.md section 6.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from exchange.catalog import Catalog, DsdSchema
from exchange.groups import GroupIndex, split
from exchange.periods import parse_period
from exchange.rows import XML_ILLEGAL, Action, DataSet, Issue, Obs, Severity

#: code -> (severity, how to fix). The message of each issue says what and where.
RULES: dict[str, tuple[Severity, str]] = {
    "UNKNOWN_STRUCTURE": (Severity.ERROR, "Reference a dataflow or DSD the hub holds (GET /health lists the dataflows)."),
    "MISSING_STRUCTURE": (Severity.ERROR, "Name the dataflow: message:Structure in SDMX-ML, DATAFLOW or STRUCTURE_ID "
                                          "in SDMX-CSV."),
    "UNKNOWN_COMPONENT": (Severity.ERROR, "Remove the value or rename it to a component of the DSD."),
    "MISSING_DIMENSION": (Severity.ERROR, "Give a value for every dimension of the DSD (only Delete may leave some "
                                          "out)."),
    "UNKNOWN_CODE": (Severity.ERROR, "Use a code of the component's code list (or add a mapping in mappings/)."),
    "OUTSIDE_CONSTRAINT": (Severity.ERROR, "This value is in the code list but not allowed for this dataflow; check "
                                           "the content constraint."),
    "BAD_PERIOD": (Severity.ERROR, "Write the period in an SDMX form: 2020, 2020-Q1, 2020-01 or 2020-M01, 2020-W05, "
                                   "2020-01-31."),
    "PERIOD_FREQ_MISMATCH": (Severity.ERROR, "Make TIME_PERIOD match FREQ (A: 2020; Q: 2020-Q1; M: 2020-01) or "
                                             "correct FREQ."),
    "NON_NUMERIC": (Severity.ERROR, "Write a number with a dot as decimal separator and no thousands separator (e.g. "
                                    "1234.5)."),
    "VALUE_TOO_LONG": (Severity.ERROR, "Shorten the value to the maximum length allowed."),
    "PATTERN_MISMATCH": (Severity.ERROR, "Make the value match the pattern of the component's text format."),
    "MANDATORY_ATTRIBUTE_MISSING": (Severity.ERROR, "Give a value for this mandatory attribute."),
    "ATTRIBUTE_LEVEL": (Severity.ERROR, "Move the attribute to the level the DSD attaches it to (dataset, series or "
                                        "observation)."),
    "ATTRIBUTE_CONFLICT": (Severity.ERROR, "Give one value of this series-level attribute for the whole series."),
    "DUPLICATE_OBSERVATION": (Severity.ERROR, "Keep one observation per series key and period in a dataset."),
    "PROVIDER_NOT_ALLOWED": (Severity.ERROR, "A data provider may only report observations whose REF_AREA is its own "
                                             "country."),
    "DELETE_NOT_FOUND": (Severity.WARNING, "Nothing to do: the hub holds no such observation. Check the key if "
                                           "unexpected."),
    "UNKNOWN_GROUP": (Severity.ERROR, "Name a group the DSD defines (xsi:type or type of the Group element), or "
                                      "attach the attributes to the series."),
    "GROUP_KEY_MISMATCH": (Severity.ERROR, "Give a Group element values for exactly the dimensions of its group, "
                                           "plus attributes attached to that group."),
    "GROUP_UNMATCHED": (Severity.WARNING, "The group's key matches no series of its dataset, so its attributes were "
                                          "not stored: check the key, or send the series with it."),
    "EMPTY_MESSAGE": (Severity.WARNING, "The message holds no observation."),
    "DERIVED_DATAFLOW": (Severity.ERROR, "Push the reported flows (UNECE:MIGR_FLOW); the hub computes this dataflow."),
    "INVALID_CHARACTER": (Severity.ERROR, "Remove control characters (U+0000-U+001F except tab, line feed and "
                                          "carriage return) and unpaired surrogates: SDMX-ML (XML 1.0) cannot carry "
                                          "them."),
    "NO_OBSERVATION": (Severity.ERROR, "Give the observations of the series (TIME_PERIOD and OBS_VALUE); attribute-only "
                                      "series or rows are not stored by the hub yet. Only Delete may omit them."),
}
#: Codes of messages that cannot be read at all (exchange.rows.MessageError); each carries its own fix text.
MESSAGE_CODES = {
    "XML_NOT_WELL_FORMED": 400, "XML_SCHEMA_VIOLATION": 400, "XML_DTD_FORBIDDEN": 400, "NOT_SDMX_DATA": 415,
    "STRUCTURE_NOT_DATA": 400,
    "UNSUPPORTED_MEDIA_TYPE": 415, "UNRECOGNISED_CONTENT": 415, "UNSUPPORTED_FORMAT": 415, "TOO_LARGE": 413,
    "BAD_COMPRESSION": 400, "NOT_UTF8": 400, "CSV_MALFORMED": 400, "CSV_BAD_HEADER": 400, "CSV_BAD_STRUCTURE": 400,
    "CSV_BAD_ACTION": 400, "CSV_EMPTY": 400, "JSON_MALFORMED": 400, "JSON_BAD_INDEX": 400,
    "JSON_SCHEMA_VIOLATION": 400,
}
#: Codes that reject a message while the structure itself is unknown: the answer is 404, not 422.
NOT_FOUND_CODES = frozenset({"UNKNOWN_STRUCTURE"})


def make_issue(code: str, message: str, **where: Any) -> Issue:
    severity, fix = RULES[code]
    return Issue(code, severity, message, fix, **where)


class IssueLog:
    """Every issue of a message, counted per code and spooled to a temporary file: never capped, flat memory."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.fixes: dict[str, tuple[str, str]] = {}  # code -> (severity, fix)
        self.errors = 0
        self.warnings = 0
        self._file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def add(self, issue: Issue) -> None:
        self.counts[issue.code] += 1
        self.fixes.setdefault(issue.code, (issue.severity.value, issue.fix))
        if issue.severity is Severity.ERROR:
            self.errors += 1
        else:
            self.warnings += 1
        self._file.write(json.dumps(issue.as_dict()) + "\n")

    def __len__(self) -> int:
        return self.errors + self.warnings

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)
        self._file.seek(0, 2)

    def summary(self) -> list[dict[str, Any]]:
        return [
            {"code": code, "severity": self.fixes[code][0], "count": n, "fix": self.fixes[code][1]}
            for code, n in sorted(self.counts.items())
        ]

    def close(self) -> None:
        self._file.close()


_MISSING = object()
#: Keys tracked in memory per dataset before duplicate detection moves to SQL (memory stays bounded).
TRACK_LIMIT = 100_000


@dataclass
class _DataSetContext:
    schema: DsdSchema | None
    levels: dict[str, str]  # attribute -> level expected in this dataset
    # Values already found valid, per coded component: a repeated code costs one dict look-up.
    ok: dict[str, dict[str, Any]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)  # component id -> column name
    # The series being read (parsers share one dict per series): its checked part is reused for each obs.
    series: dict[str, str] | None = None
    series_row: dict[str, Any] = field(default_factory=dict)
    series_values: dict[str, str] = field(default_factory=dict)
    series_failed: bool = False
    missing: tuple[str, ...] = ()  # key components not given at dataset or series level
    mandatory: tuple[str, ...] = ()  # mandatory attributes not given at dataset or series level
    # In-stream duplicate detection for SDMX-ML (see Validator.sql_checks): series keys met so far, and
    # the observation keys of the current series with where each was first given.
    series_keys: set[tuple[str | None, ...]] = field(default_factory=set)
    obs_keys: dict[tuple[Any, ...], str] = field(default_factory=dict)
    # The dataset's Group elements (exchange.groups), and whether the current series needs them per observation.
    groups: GroupIndex | None = None
    obs_groups: bool = False

    def __post_init__(self) -> None:
        if self.schema is not None:
            self.columns = {c: c.lower() for c in self.schema.components}


class Validator:
    """Check observations one by one; yield ``(schema, dataset, row)`` for each observation that passes.

    ``provider`` restricts REF_AREA to one country (a provider token); None means an administrator.
    Dataset- and series-level values are checked once per series (parsers share the series dict), so the
    per-observation cost is the observation's own values.
    """

    def __init__(self, catalog: Catalog, log: IssueLog, provider: str | None = None, max_value_length: int = 1000):
        self.catalog = catalog
        self.log = log
        self.provider = provider
        self.max_value_length = max_value_length
        self._contexts: dict[int, _DataSetContext] = {}
        self.seen = 0
        # Datasets whose duplicates and series-attribute conflicts must be found in SQL on the staged rows:
        # flat ones (SDMX-CSV, or more keys than TRACK_LIMIT) and those where a series key comes back.
        # For the others (the usual SDMX-ML message: each series once) both checks are done here, in-stream.
        self.sql_checks: set[int] = set()

    def rows(self, observations: Iterator[Obs]) -> Iterator[tuple[DsdSchema, DataSet, dict[str, Any], dict[str, Any]]]:
        """Yield ``(schema, dataset, series_row, obs_row)`` for every valid observation.

        ``series_row`` (converted dataset- and series-level values, by column) is one object per series;
        ``obs_row`` holds the observation's own values. Together they are the row to store.
        """
        ctx = None
        for obs in observations:
            self.seen += 1
            if ctx is not None and id(obs.dataset) not in self._contexts:
                self._finish(ctx)
            ctx = self._context(obs.dataset)
            if ctx.schema is None:
                continue
            row = self.check(ctx, obs)
            if row is not None:
                yield ctx.schema, obs.dataset, ctx.series_row, row
        if ctx is not None:
            self._finish(ctx)

    def _finish(self, ctx: _DataSetContext) -> None:
        """After a dataset's last observation: its groups that described none of its series."""
        if ctx.groups is None:
            return
        for group in ctx.groups.unmatched():
            key = ".".join(group.key.values())
            self.log.add(make_issue("GROUP_UNMATCHED", f"Group {group.id} {key} matches no series of its dataset.",
                                    where=group.where, series_key=key, value=group.id))
        ctx.groups = None

    def _groups(self, schema: DsdSchema, dataset: DataSet) -> GroupIndex | None:
        """Check the dataset's Group elements once (their id, key and values) and index the good ones."""
        if not dataset.groups:
            return None
        index = GroupIndex(schema)
        deleting = dataset.action is Action.DELETE
        for element in dataset.groups:
            before = self.log.errors
            group, problems = split(schema, element)
            shown = Obs(dataset, {}, {**element.values, **(element.key or {})}, element.where)
            for problem in problems:
                self._add(problem.code, problem.message, schema, shown, component=problem.component,
                          value=problem.value)
            if group is None:
                index.excuse(element)
                continue
            for component, value in {**group.key, **group.attributes}.items():
                self._check_value(schema, component, value, shown, deleting)
            if self.log.errors != before:
                index.excuse(element)
                continue
            previous = index.add(group)
            if previous is not None and previous.attributes != group.attributes:
                self._add("ATTRIBUTE_CONFLICT", f"Group {group.id} {'.'.join(group.key.values())} is given twice "
                          f"with different attributes (first at {previous.where}).", schema, shown)
        return index

    def _context(self, dataset: DataSet) -> _DataSetContext:
        ctx = self._contexts.get(id(dataset))
        if ctx is not None:
            return ctx
        schema = None
        if dataset.structure is None:
            self.log.add(make_issue("MISSING_STRUCTURE", "The dataset does not say which dataflow or DSD it follows.",
                                    where=dataset.where))
        else:
            schema = self.catalog.schema_for(dataset.structure)
            if schema is not None and self.catalog.is_derived(dataset.structure):
                self.log.add(make_issue("DERIVED_DATAFLOW", f"{dataset.structure} is computed by the hub from the "
                                        "reported flows; it cannot be pushed.", value=str(dataset.structure),
                                        where=dataset.where))
                schema = None
            elif schema is None:
                self.log.add(make_issue("UNKNOWN_STRUCTURE", f"The hub has no {dataset.structure}.",
                                        value=str(dataset.structure), where=dataset.where))
        levels = {}
        if schema is not None:
            levels = {a: schema.level(a, dataset.dimension_at_observation) for a in schema.attributes}
        self._contexts.clear()  # datasets come one after another; keep memory flat
        ctx = self._contexts[id(dataset)] = _DataSetContext(schema, levels)
        if schema is not None:
            ctx.groups = self._groups(schema, dataset)
        if not dataset.structured:
            self.sql_checks.add(dataset.index)
        return ctx

    def check(self, ctx: _DataSetContext, obs: Obs) -> dict[str, Any] | None:
        schema = ctx.schema
        assert schema is not None
        if obs.series is not ctx.series:
            self._start_series(ctx, obs)
        before = self.log.errors
        dataset = obs.dataset
        deleting = dataset.action is Action.DELETE
        values = obs.values
        if ctx.obs_groups and ctx.groups is not None:  # the group key needs the observation's own dimensions
            extra = ctx.groups.values_for({**ctx.series_values, **values})
            if extra:
                obs.values = {**extra, **values}  # the observation's own values win (checked: level, below)
        time_dim = schema.time_dimension
        if not deleting and time_dim and time_dim not in values and time_dim not in ctx.series_values:
            self._add("NO_OBSERVATION", "A series (or CSV row) without an observation: it carries no "
                      f"{time_dim}, so its values cannot be stored.", schema, obs, component=time_dim)
            return None
        row = self._obs_values(ctx, obs, deleting)
        self._check_completeness(ctx, obs, deleting, row)
        if dataset.structured:
            for component in values:
                expected = ctx.levels.get(component)
                if expected is not None and expected != "obs":
                    self._level_issue(ctx, obs, component, values[component], "obs", expected)
        if self.provider is not None:
            self._confine_to_provider(ctx, obs, row, deleting)
        if self.log.errors != before or ctx.series_failed:
            return None
        if not deleting and dataset.index not in self.sql_checks:
            self._track_duplicate(ctx, obs, row)
        return row if self.log.errors == before else None

    def _obs_values(self, ctx: _DataSetContext, obs: Obs, deleting: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"location": obs.where}
        ok, columns = ctx.ok, ctx.columns
        for component, value in obs.values.items():
            known = ok.get(component)  # fast path: a value already found valid in this dataset
            if known is not None:
                converted = known.get(value, _MISSING)
                if converted is not _MISSING:
                    row[columns[component]] = converted
                    continue
            converted = self._value(ctx, component, value, obs, deleting)
            if converted is not None:
                row[columns.get(component) or component.lower()] = converted
        return row

    def _track_duplicate(self, ctx: _DataSetContext, obs: Obs, row: dict[str, Any]) -> None:
        """Duplicates inside one series, found as the series is read (SDMX-ML gives each series once).

        The key components not given by the series are the observation's own: they are all in ``row``.
        """
        columns = ctx.columns
        key = tuple([row.get(columns[c]) for c in ctx.missing])
        first = ctx.obs_keys.get(key)
        if first is not None:
            assert ctx.schema is not None
            period = row.get(ctx.schema.time_dimension.lower()) if ctx.schema.time_dimension else None
            self._add("DUPLICATE_OBSERVATION", f"Observation {'.'.join(str(k) for k in key)} already given at "
                      f"{first}.", ctx.schema, obs, period=period)
            return
        ctx.obs_keys[key] = obs.where
        if len(ctx.obs_keys) > TRACK_LIMIT:
            self._to_sql(ctx, obs.dataset)

    def _to_sql(self, ctx: _DataSetContext, dataset: DataSet) -> None:
        self.sql_checks.add(dataset.index)
        ctx.obs_keys.clear()
        ctx.series_keys.clear()

    def _start_series(self, ctx: _DataSetContext, obs: Obs) -> None:
        """Check the dataset- and series-level values once for the whole series."""
        schema = ctx.schema
        assert schema is not None
        dataset = obs.dataset
        deleting = dataset.action is Action.DELETE
        before = self.log.errors
        given = {**dataset.values, **obs.series}
        ctx.obs_groups = False
        if ctx.groups:
            given = self._series_groups(ctx, obs, given)
        row: dict[str, Any] = {}
        for component, value in given.items():
            converted = self._value(ctx, component, value, obs, deleting)
            if converted is not None:
                row[component.lower()] = converted
        if dataset.structured:
            for level, values in (("series", obs.series), ("dataset", dataset.values)):
                for component in values:
                    expected = ctx.levels.get(component)
                    if expected is not None and expected != level:
                        self._level_issue(ctx, obs, component, values[component], level, expected)
        if self.provider is not None and "REF_AREA" not in schema.components:
            self._add("PROVIDER_NOT_ALLOWED", f"{schema.ref} has no REF_AREA dimension, so its observations belong to "
                      f"no country: only an administrator may push it, not provider {self.provider}.", schema, obs)
        elif self.provider is not None and "REF_AREA" in given:
            self._check_provider(schema, given["REF_AREA"], obs)
        ctx.series, ctx.series_row, ctx.series_values = obs.series, row, given
        ctx.series_failed = self.log.errors != before
        ctx.missing = tuple(c for c in schema.key_components if c not in given)
        if dataset.index not in self.sql_checks and not deleting:
            series_key = tuple(given.get(c) for c in schema.key_components)
            ctx.obs_keys = {}
            if series_key in ctx.series_keys or len(ctx.series_keys) > TRACK_LIMIT:
                self._to_sql(ctx, dataset)  # a series given twice: compare across series in SQL
            else:
                ctx.series_keys.add(series_key)
        excused = ctx.groups.excused if ctx.groups is not None else ()
        ctx.mandatory = tuple(a for a in schema.attributes if schema.components[a].mandatory and a not in given
                              and a not in excused)

    def _series_groups(self, ctx: _DataSetContext, obs: Obs, given: dict[str, str]) -> dict[str, str]:
        """``given`` with the attributes of the groups the series key matches; when the series does not give
        every group dimension (they are at observation level), the groups are matched per observation."""
        assert ctx.groups is not None and ctx.schema is not None
        if not ctx.groups.complete(given):
            ctx.obs_groups = True
            return given
        values = ctx.groups.values_for(given)
        for component, value in values.items():
            if component in obs.series and obs.series[component] != value:
                self._add("ATTRIBUTE_CONFLICT", f"The series gives {component}={obs.series[component]!r}; its group "
                          f"gives {value!r}.", ctx.schema, obs, component=component, value=obs.series[component])
        return {**given, **values, **obs.series}

    def _confine_to_provider(self, ctx: _DataSetContext, obs: Obs, row: dict[str, Any], deleting: bool) -> None:
        """A provider's observations are its own country's, whatever the action (REF_AREA = provider).

        A REF_AREA given at observation level is checked here (series and dataset level: ``_start_series``).
        A Delete that leaves REF_AREA out is a wildcard over every country (SDMX 3.0 section 5.5, "Delete"):
        for a provider it is resolved within its rights, to its own country, so it can never reach another
        country's observations. Other actions without REF_AREA are refused as MISSING_DIMENSION.
        """
        if "REF_AREA" in obs.values:
            assert ctx.schema is not None
            self._check_provider(ctx.schema, obs.values["REF_AREA"], obs)
        elif deleting and "REF_AREA" not in ctx.series_values:
            row["ref_area"] = self.provider

    def _check_provider(self, schema: DsdSchema, area: str | None, obs: Obs) -> None:
        if area != self.provider:
            self._add("PROVIDER_NOT_ALLOWED", f"Provider {self.provider} may not report REF_AREA={area or '(any)'}.",
                      schema, obs, component="REF_AREA", value=area)

    def _level_issue(self, ctx: _DataSetContext, obs: Obs, component: str, value: str, where: str,
                     expected: str) -> None:
        assert ctx.schema is not None
        self._add("ATTRIBUTE_LEVEL", f"{component} is given at {where} level; with dimensionAtObservation="
                  f"{obs.dataset.dimension_at_observation} the DSD attaches it at {expected} level.",
                  ctx.schema, obs, component=component, value=value)

    def _value(self, ctx: _DataSetContext, component: str, value: str, obs: Obs, deleting: bool) -> Any:
        cache = ctx.ok.get(component)
        if cache is not None:
            hit = cache.get(value, _MISSING)
            if hit is not _MISSING:
                return hit
        assert ctx.schema is not None
        before = self.log.errors
        converted = self._check_value(ctx.schema, component, value, obs, deleting)
        rule = ctx.schema.components.get(component)
        cacheable = rule is not None and (rule.codes is not None or rule.role == "time")
        if self.log.errors == before and cacheable and not deleting:
            ctx.ok.setdefault(component, {})[value] = converted
        return converted

    def _check_value(self, schema: DsdSchema, component: str, value: str, obs: Obs, deleting: bool) -> Any:
        rule = schema.components.get(component)
        if rule is None:
            self._add("UNKNOWN_COMPONENT", f"{component} is not a component of {schema.ref}.", schema, obs,
                      component=component, value=value[:200])
            return None
        if len(value) > (rule.max_length or self.max_value_length) or len(value) > self.max_value_length:
            self._add("VALUE_TOO_LONG", f"{component} has {len(value)} characters; at most "
                      f"{min(rule.max_length or self.max_value_length, self.max_value_length)} are allowed.",
                      schema, obs, component=component, value=value[:200] + "...")
            return None
        if rule.role == "time":
            return value
        if deleting and rule.role in ("attribute", "measure"):
            return value  # SDMX 3.1 Delete: "it is sufficient to use any valid value" to mark what to delete
        if rule.codes is not None:
            if value not in rule.codes:
                self._add("UNKNOWN_CODE", f"{value!r} is not a code of {rule.codelist} ({component}).", schema,
                          obs, component=component, value=value)
                return None
            allowed = schema.allowed.get(component)
            if (allowed is not None and value not in allowed) or value in schema.excluded.get(component, ()):
                self._add("OUTSIDE_CONSTRAINT", f"{component}={value} is outside the allowed content of "
                          f"{schema.ref} ({', '.join(schema.constraint_ids)}).", schema, obs,
                          component=component, value=value)
                return None
            return value
        if rule.numeric:
            return self._number(schema, component, value, obs)
        return self._text(schema, rule.pattern, component, value, obs)

    def _number(self, schema: DsdSchema, component: str, value: str, obs: Obs) -> float | None:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):  # inf, -Infinity, nan, 1e400: an SDMX Double is a finite number here
            self._add("NON_NUMERIC", f"{component}={value!r} is not a finite number.", schema, obs,
                      component=component, value=value)
            return None
        return number

    def _text(self, schema: DsdSchema, pattern: re.Pattern[str] | None, component: str, value: str,
              obs: Obs) -> str | None:
        bad = XML_ILLEGAL.search(value)
        if bad is not None:
            self._add("INVALID_CHARACTER", f"{component} holds the character U+{ord(bad.group()):04X} at position "
                      f"{bad.start() + 1}, which XML 1.0 cannot carry.", schema, obs, component=component,
                      value=value[:200])
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self._add("PATTERN_MISMATCH", f"{component}={value!r} does not match {pattern.pattern}.", schema,
                      obs, component=component, value=value)
        return value

    def _check_completeness(self, ctx: _DataSetContext, obs: Obs, deleting: bool, row: dict[str, Any]) -> None:
        schema = ctx.schema
        assert schema is not None
        values = obs.values
        if not deleting:
            for component in ctx.missing:
                if component not in values:
                    self._add("MISSING_DIMENSION", f"{component} has no value.", schema, obs, component=component)
        time_dim = schema.time_dimension
        if time_dim is None:
            return
        period_text = values.get(time_dim) or ctx.series_values.get(time_dim)
        if period_text is not None:
            period = parse_period(period_text)
            if period is None:
                self._add("BAD_PERIOD", f"{period_text!r} is not an SDMX time period.", schema, obs,
                          component=time_dim, value=period_text)
            else:
                freq = values.get("FREQ") or ctx.series_values.get("FREQ")
                if freq in ("A", "S", "Q", "M", "W", "D") and period.freq != freq:
                    self._add("PERIOD_FREQ_MISMATCH", f"{time_dim}={period_text} is not a period of frequency {freq}.",
                              schema, obs, component=time_dim, value=period_text)
                row[time_dim.lower()] = period.canonical
                row["_period_start"], row["_period_end"] = period.start, period.end
        if not deleting and values:
            for attr in ctx.mandatory:
                if attr not in values:
                    self._add("MANDATORY_ATTRIBUTE_MISSING", f"Mandatory attribute {attr} is missing.", schema, obs,
                              component=attr)

    def _add(self, code: str, message: str, schema: DsdSchema, obs: Obs, **extra: Any) -> None:
        merged = {**obs.dataset.values, **obs.series, **obs.values}
        key = ".".join(merged.get(d, "*") for d in schema.dimensions)
        period = extra.pop("period", None) or (merged.get(schema.time_dimension) if schema.time_dimension else None)
        component = extra.get("component")
        if obs.national and component in obs.national:
            message += f" (mapped from the national code {obs.national[component]!r})"
        self.log.add(make_issue(code, message, where=obs.where, series_key=key, period=period, **extra))
