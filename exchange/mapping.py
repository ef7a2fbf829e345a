"""National codes -> shared codes, between parsing and validation.

``mappings/`` holds reviewable CSV files ``<PROVIDER>/<COMPONENT>.csv`` (or ``_all/<COMPONENT>.csv`` for every
provider) with the columns of an SDMX ValueMap: ``source,target,valid_from,valid_to`` (validity in ISO dates,
compared with the observation's period; empty = open). A provider's own file wins over ``_all``.

A value is mapped only when it is not already a code of the component in the dataset's DSD and the target
is: a valid shared code is never rewritten, and other DSDs (pushed by administrators) are left alone.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from exchange.catalog import Catalog, DsdSchema
from exchange.periods import parse_period
from exchange.rows import DataSet, Obs

ALL = "_all"


@dataclass(frozen=True)
class Rule:
    target: str
    valid_from: str
    valid_to: str


@dataclass
class Mappings:
    # provider -> component -> source -> rules
    rules: dict[str, dict[str, dict[str, list[Rule]]]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Mappings:
        return cls()

    @classmethod
    def load(cls, folder: Path) -> Mappings:
        mappings = cls()
        if not folder.is_dir():
            return mappings
        for path in sorted(folder.glob("*/*.csv")):
            by_source = mappings.rules.setdefault(path.parent.name, {}).setdefault(path.stem, {})
            with path.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    by_source.setdefault(row["source"], []).append(
                        Rule(row["target"], row.get("valid_from") or "", row.get("valid_to") or ""))
        return mappings

    def for_provider(self, provider: str | None) -> dict[str, dict[str, list[Rule]]]:
        merged = {c: dict(m) for c, m in self.rules.get(ALL, {}).items()}
        for component, sources in self.rules.get(provider or "", {}).items():
            merged.setdefault(component, {}).update(sources)
        return merged

    def remap(self, observations: Iterator[Obs], provider: str | None, catalog: Catalog) -> Iterator[Obs]:
        table = self.for_provider(provider)
        if not table:
            yield from observations
            return
        last: DataSet | None = None
        schema: DsdSchema | None = None
        series_in: dict[str, str] | None = None
        series_out: dict[str, str] = {}
        series_national: dict[str, str] | None = None
        dated = any(r.valid_from or r.valid_to for m in table.values() for rules in m.values() for r in rules)
        for obs in observations:
            if obs.dataset is not last:
                last = obs.dataset
                schema = catalog.schema_for(last.structure) if last.structure is not None else None
                series_in = None
            if schema is None:
                yield obs
                continue
            day = ""
            if dated:
                period = obs.values.get("TIME_PERIOD") or obs.series.get("TIME_PERIOD")
                day = parsed.start if period and (parsed := parse_period(period)) else ""
            # One series dict is shared by all its observations: map it once, keep sharing the result.
            if obs.series is not series_in or dated:
                series_in = obs.series
                series_out = _map(obs, obs.series, table, schema, day)
                series_national = obs.national
            elif series_national:
                obs.national = dict(series_national)
            obs.series = series_out
            obs.values = _map(obs, obs.values, table, schema, day)
            yield obs


def _map(obs: Obs, values: dict[str, str], table: dict[str, dict[str, list[Rule]]], schema: DsdSchema,
         day: str) -> dict[str, str]:
    changed: dict[str, str] | None = None
    for component, value in values.items():
        sources = table.get(component)
        if not sources or value not in sources:
            continue
        rule_codes = schema.components[component].codes if component in schema.components else None
        if rule_codes is None or value in rule_codes:
            continue
        for rule in sources[value]:
            if rule.target not in rule_codes:
                continue
            if (not rule.valid_from or day >= rule.valid_from) and (not rule.valid_to or not day or day <= rule.valid_to):
                if changed is None:
                    changed = dict(values)
                changed[component] = rule.target
                if obs.national is None:
                    obs.national = {}
                obs.national[component] = value
                break
    return changed if changed is not None else values
