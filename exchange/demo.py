"""Real data for a first look: Eurostat bilateral flows (EU27, 2010-2019) as one SDMX message per reporting country.

Source: Eurostat, migr_emi3nxt (emigration by next residence) and migr_imm5prv (immigration by previous
residence), totals, as packaged in MigMod (see exchange/data/README.md). Each country's message holds its
emigration to (EMI) and immigration from (IMM) every partner it reported, with its duration criterion.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from exchange.messages import Series, write_structure_specific

#: Months of minimum stay -> CL_DUR_CRIT (mirror-statistics.md 7.3).
DUR_CRIT = {"0.0": "M0", "1.0": "M1", "1.25": "M1", "3.0": "M3", "4.0": "M3", "6.0": "M6", "8.0": "M6",
            "12.0": "M12", "60.0": "PERM"}


def _data_file(name: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(resources.files("exchange.data").joinpath(name).open("rb"), encoding="utf-8")


def _criteria() -> dict[tuple[str, str, str], str]:
    with _data_file("duration_criteria_2002_2021.csv") as handle:
        return {(r["reporting_country"], r["year"], r["direction"]): DUR_CRIT.get(r["min_duration_months"], "OTH")
                for r in csv.DictReader(handle)}


def country_series() -> dict[str, list[Series]]:
    """Series per reporting country (ISO alpha-3), built from the flow file."""
    criteria = _criteria()
    # (reporter, flow, partner) -> [(year, value)], plus the reporter's alpha-2 for criteria look-ups
    cells: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    alpha2: dict[str, str] = {}
    with _data_file("eu27_mirror_flows_2010_2019.csv") as handle:
        for row in csv.DictReader(handle):
            alpha2[row["origin_iso3"]], alpha2[row["destination_iso3"]] = row["origin"], row["destination"]
            if row["emi_reported_by_origin"]:
                cells[(row["origin_iso3"], "EMI", row["destination_iso3"])].append(
                    (row["year"], row["emi_reported_by_origin"]))
            if row["imm_reported_by_destination"]:
                cells[(row["destination_iso3"], "IMM", row["origin_iso3"])].append(
                    (row["year"], row["imm_reported_by_destination"]))
    by_country: dict[str, list[Series]] = defaultdict(list)
    for (reporter, flow, partner), values in sorted(cells.items()):
        key = {"FREQ": "A", "REF_AREA": reporter, "MIGR_FLOW": flow, "MIGRANT_TYPE": "_T", "COUNTERPART_AREA": partner,
               "CITIZENSHIP": "_T", "COB": "_T", "SEX": "_T", "AGE": "_T", "UNIT_MEASURE": "PS", "UNIT_MULT": "0",
               "SOURCE_TYPE": "POP_REG"}
        crit = {c for year, _ in values if (c := criteria.get((alpha2[reporter], year, flow)))}
        if len(crit) == 1:
            key["DUR_CRIT"] = crit.pop()
        obs = [{"TIME_PERIOD": year, "OBS_VALUE": str(int(float(v))), "OBS_STATUS": "A"} for year, v in sorted(values)]
        by_country[reporter].append(Series(key, obs))
    return dict(by_country)


def write_messages(folder: Path) -> list[Path]:
    """One SDMX-ML 2.1 structure-specific message per reporting country; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for country, series in sorted(country_series().items()):
        path = folder / f"MIGR_FLOW_{country}.xml"
        with path.open("wb") as out:
            write_structure_specific(out, series, sender=country, message_id=f"EUROSTAT_{country}")
        paths.append(path)
    return paths


def messages_in_memory() -> Iterator[tuple[str, bytes]]:
    for country, series in sorted(country_series().items()):
        out = io.BytesIO()
        write_structure_specific(out, series, sender=country, message_id=f"EUROSTAT_{country}")
        yield country, out.getvalue()
