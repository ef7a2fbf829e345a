"""Mirror-statistics benchmark (not a test): the hub's statistics against the path a user takes today.

    python bench/mirror.py [--postgres URL]

A synthetic UNECE matrix (56 countries, 10 years, sex F/M/_T; every country reports emigration to and
immigration from every partner, about 92k observations per side) is pushed through the ordinary push path,
one message per country. Then, in one run:
  * exchange: all pairs with measures, the WLS-log factors and harmonised flows of every year, and the CIS
    aggregate, computed by the hub's functions from the store (SQLite, and PostgreSQL when available);
  * the user's path today: pull the same data as SDMX-ML with sdmx1 (``read_sdmx`` of the message the hub
    serves, plus ``to_pandas``) and compute the same pairs and factors with pandas/numpy.
Reported: seconds for each, and the ratio.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange.body import spool  # noqa: E402
from exchange.messages import Series, write_structure_specific  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
UNECE = ("ALB AND ARM AUT AZE BLR BEL BIH BGR CAN HRV CYP CZE DNK EST FIN FRA GEO DEU GRC HUN ISL IRL ISR ITA KAZ "
         "KGZ LVA LIE LTU LUX MLT MCO MNE NLD MKD NOR POL PRT MDA ROU RUS SMR SRB SVK SVN ESP SWE CHE TJK TUR TKM "
         "UKR GBR USA UZB").split()
YEARS = [str(y) for y in range(2010, 2020)]


def messages(seed: int = 7) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    true = rng.lognormal(5, 1.5, size=(len(UNECE), len(UNECE), len(YEARS)))
    under_e = rng.uniform(0.3, 1.2, len(UNECE))
    under_i = rng.uniform(0.5, 1.5, len(UNECE))
    out = {}
    for a, country in enumerate(UNECE):
        series = []
        for b, partner in enumerate(UNECE):
            if a == b:
                continue
            for sex, share in (("F", 0.48), ("M", 0.52), ("_T", 1.0)):
                key = {"FREQ": "A", "REF_AREA": country, "MIGRANT_TYPE": "_T", "CITIZENSHIP": "_T", "COB": "_T",
                       "SEX": sex, "AGE": "_T", "UNIT_MEASURE": "PS", "UNIT_MULT": "0"}
                emi = [{"TIME_PERIOD": y, "OBS_VALUE": str(round(true[a, b, t] * share * under_e[a])),
                        "OBS_STATUS": "A"} for t, y in enumerate(YEARS)]
                imm = [{"TIME_PERIOD": y, "OBS_VALUE": str(round(true[b, a, t] * share * under_i[a])),
                        "OBS_STATUS": "A"} for t, y in enumerate(YEARS)]
                series.append(Series({**key, "MIGR_FLOW": "EMI", "COUNTERPART_AREA": partner}, emi))
                series.append(Series({**key, "MIGR_FLOW": "IMM", "COUNTERPART_AREA": partner}, imm))
        buffer = io.BytesIO()
        write_structure_specific(buffer, series, sender=country)
        out[country] = buffer.getvalue()
    return out


def load(url: str, data: dict[str, bytes]):  # noqa: ANN201
    from bench.store import fresh_store
    from exchange.hub import open_hub
    from exchange.ingest import Principal
    from exchange.settings import Settings

    url = fresh_store(url, "bench_mirror")
    hub = open_hub(Settings(database_url=url))
    for country, message in data.items():
        assert hub.ingestor.submit(spool([message], len(message) + 1), None, Principal(None, country, False)).status == 200
    return hub


def exchange_path(hub) -> dict[str, float]:  # noqa: ANN001
    """The whole set with the hub's own functions, each reading the store as its endpoint does."""
    from exchange.api.stats import flow_table
    from exchange.stats import aggregate, factors, mirror
    from exchange.stats.pairing import read_pairs
    from exchange.store.read import flow_rows

    table = flow_table(hub)
    timings = {}
    start = time.perf_counter()
    with hub.engine.connect() as conn:
        pairs = read_pairs(conn, table)
    timings["pairs formed by the store (one SQL join)"] = time.perf_counter() - start
    mark = time.perf_counter()
    records = mirror.pair_records(pairs)
    timings["measures and records, all pairs"] = time.perf_counter() - mark
    mark = time.perf_counter()
    by_year: dict[str, list[mirror.Pair]] = {}
    for pair in pairs:
        if pair.breakdown[2] == "_T":
            by_year.setdefault(pair.period, []).append(pair)
    for year in YEARS:
        result = factors.estimate([p for p in by_year[year] if p.both], "SWE")
        factors.harmonised(by_year[year], result)
    timings["factors + harmonised, 10 years"] = time.perf_counter() - mark
    mark = time.perf_counter()
    memberships = aggregate.region_members(hub.catalog, "CIS")
    with hub.engine.connect() as conn:
        rows = flow_rows(conn, table, None, {"MIGR_FLOW": "EMI", "REF_AREA": {m.member for m in memberships}})
    aggregate.aggregate(rows, memberships, "CIS", "EMI", "intra")
    timings["CIS intra-regional aggregate"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start
    assert len(records) == len(UNECE) * (len(UNECE) - 1) * len(YEARS) * 3
    return timings


def user_path(hub) -> dict[str, float]:  # noqa: ANN001
    """What a user does today: pull the flows as SDMX-ML with sdmx1, then pandas/numpy."""
    import sdmx

    from exchange.api.sdmx import REPRESENTATIONS
    from exchange.query import parse_v1
    from exchange.render import Output
    from exchange.settings import REPO_ROOT
    from exchange.store.read import select_rows

    schema = hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW")
    query = parse_v1("MIGR_FLOW", "A....._T._T.._T.PS", None, {})
    with hub.engine.connect() as conn:
        rows = list(select_rows(conn, hub.tables.table(schema), schema, query))
    render = REPRESENTATIONS["application/vnd.sdmx.structurespecificdata+xml"].renderer
    message = b"".join(render(Output(schema, "UNECE", "MIGR_FLOW", "1.0", "TIME_PERIOD"), iter(rows)))
    dsd = sdmx.read_sdmx(REPO_ROOT / "structures" / "UNECE-migration.xml").structure["MIGR_FLOW"]
    timings = {}
    start = time.perf_counter()
    data = sdmx.to_pandas(sdmx.read_sdmx(io.BytesIO(message), structure=dsd)).reset_index()
    timings["sdmx1 read_sdmx + to_pandas"] = time.perf_counter() - start
    mark = time.perf_counter()
    emi = data[data.MIGR_FLOW == "EMI"].rename(columns={"REF_AREA": "o", "COUNTERPART_AREA": "d", "value": "E"})
    imm = data[data.MIGR_FLOW == "IMM"].rename(columns={"REF_AREA": "d", "COUNTERPART_AREA": "o", "value": "I"})
    on = ["o", "d", "SEX", "TIME_PERIOD"]
    pairs = emi[[*on, "E"]].merge(imm[[*on, "I"]], on=on)
    pairs["diff"], pairs["ln"] = pairs.I - pairs.E, np.log(pairs.I / pairs.E)
    pairs["sym"] = 200 * (pairs.I - pairs.E) / (pairs.I + pairs.E)
    pairs["rel_e"], pairs["rel_i"], pairs["ratio"] = pairs["diff"] / pairs.E, pairs["diff"] / pairs.I, pairs.E / pairs.I
    for _year, group in pairs[pairs.SEX == "_T"].groupby("TIME_PERIOD"):
        group = group[(group.E > 0) & (group.I > 0)]
        receivers, senders = sorted(set(group.d) - {"SWE"}), sorted(set(group.o) - {"SWE"})
        r_index = {c: k for k, c in enumerate(receivers)}
        s_index = {c: len(receivers) + k for k, c in enumerate(senders)}
        design = np.zeros((len(group), len(receivers) + len(senders)))
        for row, (o, d) in enumerate(zip(group.o, group.d, strict=True)):
            if d != "SWE":
                design[row, r_index[d]] = 1
            if o != "SWE":
                design[row, s_index[o]] = -1
        weights = np.sqrt(1 / (1 / group.I.to_numpy() + 1 / group.E.to_numpy()))
        np.linalg.lstsq(design * weights[:, None], np.log(group.E / group.I).to_numpy() * weights, rcond=None)
    timings["pandas pairs + numpy factors"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    data = messages()
    stores = {"SQLite": f"sqlite:///{OUT / 'mirror.db'}"}
    if args.postgres:
        stores["PostgreSQL"] = args.postgres
    theirs: dict[str, float] = {}
    for name, url in stores.items():
        start = time.perf_counter()
        hub = load(url, data)
        print(f"{name}: pushed {len(data)} messages through the push path in {time.perf_counter() - start:.1f} s")
        ours = exchange_path(hub)
        for step, seconds in ours.items():
            print(f"  exchange   {step:42} {seconds:7.2f} s")
        if not theirs:  # the user's path does not depend on the hub's store: measured once
            theirs = user_path(hub)
            for step, seconds in theirs.items():
                print(f"  sdmx1+pd   {step:42} {seconds:7.2f} s")
        print(f"  ratio (user path / exchange on {name}, totals): {theirs['total'] / ours['total']:.1f}x")
        hub.close()

if __name__ == "__main__":
    main()
