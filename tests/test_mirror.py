"""Mirror statistics: the 2016 reference outputs reproduced from real data pushed through POST /data, and
small literal tables for every edge case."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from exchange.demo import messages_in_memory
from exchange.messages import Series
from exchange.stats import factors as fac
from exchange.stats.aggregate import Membership, aggregate
from exchange.stats.mirror import Pair, measures
from tests.conftest import auth
from tests.helpers import SS_21, key, obs, ss_message

REFERENCE = Path(__file__).parent / "reference"
REL = 1e-9  # the issue's tolerance, against the reference script's unrounded results


def iso3() -> dict[str, str]:
    from importlib import resources

    with resources.files("exchange.data").joinpath("eu27_mirror_flows_2010_2019.csv").open() as handle:
        return {r["origin"]: r["origin_iso3"] for r in csv.DictReader(handle)}


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open() as handle:
        return list(csv.DictReader(handle))


def close(ours: float | None, reference: str) -> bool:
    if reference == "":
        return ours is None
    return ours is not None and math.isclose(ours, float(reference), rel_tol=REL, abs_tol=1e-12)


@pytest.fixture(scope="module")
def unrounded(tmp_path_factory) -> Path:
    """The note's own script (tests/reference/reference_outputs.py, unchanged) run on the same data with its
    rounding turned off: the published files are rounded to 6 and 3 decimals, too coarse for 1e-9."""
    import shutil
    from importlib import resources

    import pandas as pd

    folder = tmp_path_factory.mktemp("reference")
    with resources.as_file(resources.files("exchange.data").joinpath("eu27_mirror_flows_2010_2019.csv")) as data:
        shutil.copy(data, folder / data.name)
    script = REFERENCE / "reference_outputs.py"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pd.DataFrame, "round", lambda frame, *args, **kwargs: frame)
        namespace = {"__file__": str(folder / script.name), "__name__": "reference_outputs",
                     "round": lambda value, digits=None: value, "print": lambda *args, **kwargs: None}
        exec(compile(script.read_text(), str(script), "exec"), namespace)  # noqa: S102 - our own test fixture
    for name in ("pair_metrics", "correction_factors", "harmonised_flows"):  # and it is the script that made them
        published, recomputed = (read(f, f"reference_{name}_2016.csv") for f in (REFERENCE, folder))
        assert len(published) == len(recomputed)
        for ours, theirs in zip(recomputed, published, strict=True):
            for column, value in theirs.items():
                if value and column not in ("year", "origin", "destination", "method", "benchmark", "country"):
                    assert abs(float(ours[column]) - float(value)) <= 5.0001e-4, (name, column, ours, theirs)
    return folder


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A hub holding the real Eurostat flows, pushed country by country through POST /data."""
    from fastapi.testclient import TestClient

    from exchange.app import create_app
    from exchange.auth import create_token
    from exchange.hub import open_hub
    from exchange.settings import Settings
    from tests.conftest import ON_POSTGRES, PG_URL

    if ON_POSTGRES:
        import uuid

        from sqlalchemy import create_engine, text

        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('mirror') / 'hub.db'}"
    settings = Settings(database_url=url)
    hub = open_hub(settings)
    with TestClient(create_app(settings, hub)) as client:
        for country, data in messages_in_memory():
            with hub.engine.execution_options(write=True).begin() as conn:
                token = create_token(conn, provider=country, admin=False)[1]
            assert client.post("/data", content=data, headers=auth(token)).status_code == 200
        yield client
    hub.close()
    if ON_POSTGRES:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_pair_metrics_2016_match_the_reference(real, unrounded):
    codes = iso3()
    body = real.get("/stats/mirror/pairs", params={"period": "2016", "both_only": "true", "small_count": 0}).json()
    ours = {(p["origin"], p["destination"]): p for p in body["pairs"]}
    reference = read(unrounded, "reference_pair_metrics_2016.csv")
    assert len(ours) == len(reference) == 200
    names = {"abs_diff_I_minus_E": "diff", "rel_diff_to_E": "rel_e", "rel_diff_to_I": "rel_i",
             "ratio_E_over_I": "ratio_ei", "log_ratio_ln_I_over_E": "ln_ratio", "sym_rel_diff_pct": "sym_pct",
             "asym_share_abs_over_sum": "asym_share"}
    for row in reference:
        pair = ours[(codes[row["origin"]], codes[row["destination"]])]
        assert pair["emigration_reported_by_origin"] == float(row["emi_reported_by_origin"])
        assert pair["immigration_reported_by_destination"] == float(row["imm_reported_by_destination"])
        for ref_name, name in names.items():
            assert close(pair[name], row[ref_name]), (row["origin"], row["destination"], name, pair[name], row[ref_name])
        assert pair["origin_dur_crit"] and pair["destination_dur_crit"]  # both sides' criteria travel with the pair


@pytest.mark.parametrize(("weighted", "method"), [(True, "weighted_log_least_squares"), (False, "log_least_squares")])
def test_correction_factors_2016_match_the_reference(real, unrounded, weighted, method):
    codes = iso3()
    body = real.get("/stats/mirror/factors", params={"period": "2016", "weighted": weighted}).json()
    ours = {c["country"]: c for c in body["countries"]}
    rows = [r for r in read(unrounded, "reference_correction_factors_2016.csv") if r["method"] == method]
    assert body["pairs_used"] == 199 and len(ours) == len(rows) == 15
    for row in rows:
        country = ours[codes[row["country"]]]
        assert close(country["imm_factor_r"], row["imm_factor_r"]), (row, country)
        assert close(country["emi_factor_s"], row["emi_factor_s"]), (row, country)
        assert country["se_ln_r"] is not None and country["se_ln_r"] >= 0
    assert ours["SWE"]["imm_factor_r"] == ours["SWE"]["emi_factor_s"] == 1.0


def test_harmonised_flows_2016_match_the_reference(real, unrounded):
    codes = iso3()
    body = real.get("/stats/mirror/harmonised", params={"period": "2016"}).json()
    ours = {(f["origin"], f["destination"]): f for f in body["flows"]}
    rows = [r for r in read(unrounded, "reference_harmonised_flows_2016.csv")
            if r["method"] == "weighted_log_least_squares"]
    assert len(ours) == len(rows)
    for row in rows:
        flow = ours[(codes[row["origin"]], codes[row["destination"]])]
        for name in ("adj_imm", "adj_emi", "harmonised_flow"):
            assert close(flow[name], row[name]), (row, flow)
    # mirror-statistics.md 8.2: SE->FI 2016 harmonised 2 961.8 (adjusted I 3 315.7, adjusted E 2 608.0)
    se_fi = ours[("SWE", "FIN")]
    assert (round(se_fi["harmonised_flow"], 1), round(se_fi["adj_imm"], 1), round(se_fi["adj_emi"], 1)) == (
        2961.8, 3315.7, 2608.0)


def test_country_coverage_2016(real):
    # mirror-statistics.md 8.1: emigration coverage SK 0.155, BG 0.486, SE 0.905; immigration side BG 0.197
    expected = {"SVK": (0.155, 0.359), "BGR": (0.486, 0.197), "SWE": (0.905, 1.145), "EST": (1.849, 2.402)}
    for country, (emi, imm) in expected.items():
        body = real.get("/stats/mirror/coverage", params={"country": country, "period": "2016"}).json()
        assert (round(body["emigration_coverage"], 3), round(body["immigration_coverage"], 3)) == (emi, imm)
        assert len(body["emigration_partners"]) >= 13


def test_factors_refuse_a_disconnected_graph(real):
    body = real.get("/stats/mirror/factors", params={"period": "2016", "benchmark": "CYP"})
    assert body.status_code == 422 and "CYP" in body.json()["message"]


# --- literal tables for the edge cases ---------------------------------------------------------

def test_measures_edge_cases():
    assert measures(None, 5.0)["diff"] is None  # one side missing: nothing to compare
    zero = measures(0.0, 40.0)
    assert zero["diff"] == 40.0 and zero["ln_ratio"] is None and zero["rel_e"] is None
    assert zero["asym_share"] == 1.0 and zero["sym_pct"] == 200.0 and zero["ratio_ei"] == 0.0
    small = measures(3.0, 9.0)
    assert small["suppressed"] and small["diff"] == 6.0 and small["ln_ratio"] is None
    assert measures(3.0, 9.0, small_count=5)["flag"] == "severe"
    assert measures(100.0, 105.0)["flag"] == "consistent" and measures(100.0, 140.0)["flag"] == "moderate"
    assert measures(100.0, 190.0)["flag"] == "large" and measures(100.0, 250.0)["flag"] == "severe"
    assert math.isclose(measures(8691.0, 8658.0)["ln_ratio"], -0.003804, abs_tol=5e-7)  # BE->NL, note 8.1


def row(reporter: str, flow: str, partner: str, period: str, value: float, **extra: str) -> dict:
    return {"ref_area": reporter, "migr_flow": flow, "counterpart_area": partner, "time_period": period,
            "obs_value": value, "freq": "A", "migrant_type": "_T", "sex": "_T", "age": "_T", "unit_measure": "PS",
            "citizenship": extra.get("citizenship", "_T"), "cob": "_T", "dur_crit": extra.get("dur_crit", "M12"),
            "source_type": "POP_REG", "obs_status": "A"}


def push(client, token_for, reporter: str, flow: str, partner: str, period: str, value: str, **dims: str) -> None:
    attrs = {"DUR_CRIT": dims.pop("dur_crit")} if "dur_crit" in dims else {}
    series = Series({**key(REF_AREA=reporter, MIGR_FLOW=flow, COUNTERPART_AREA=partner, **dims), **attrs},
                    [obs(period, value)])
    response = client.post("/data", content=ss_message([series]), headers=auth(token_for(reporter), SS_21))
    assert response.status_code == 200, response.text


def test_pairs_one_sided_and_proxies(client, token_for):
    push(client, token_for, "KAZ", "EMI", "RUS", "2020", "100")
    push(client, token_for, "RUS", "IMM", "KAZ", "2020", "150")
    push(client, token_for, "KAZ", "EMI", "UZB", "2020", "10")
    push(client, token_for, "UZB", "IMM", "_T", "2020", "30", CITIZENSHIP="KAZ")
    push(client, token_for, "KAZ", "EMI", "_T", "2020", "500")  # a total is never one side of a pair
    pairs = {(p["origin"], p["destination"]): p for p in client.get("/stats/mirror/pairs").json()["pairs"]}
    assert set(pairs) == {("KAZ", "RUS"), ("KAZ", "UZB")}
    assert pairs[("KAZ", "RUS")]["diff"] == 50 and pairs[("KAZ", "UZB")]["immigration_reported_by_destination"] is None
    proxy = client.get("/stats/mirror/pairs", params={"basis": "citizenship"}).json()
    found = {(p["origin"], p["destination"]): p for p in proxy["pairs"]}
    assert proxy["proxy"] and found[("KAZ", "UZB")]["immigration_reported_by_destination"] == 30
    assert found[("KAZ", "UZB")]["basis"] == "citizenship" and found[("KAZ", "UZB")]["proxy"]
    cov = client.get("/stats/mirror/coverage", params={"country": "KAZ", "period": "2020"}).json()
    assert cov["emigration_coverage"] == 100 / 150 and cov["emigration_partners"] == ["RUS"]  # UZB: one side only
    push(client, token_for, "DEU", "IMM", "KAZ", "2020", "40", dur_crit="M0")
    estimate = client.get("/stats/mirror/estimate", params={"country": "KAZ", "period": "2020",
                                                            "duration_adjust": True}).json()
    # RUS by previous residence; UZB only by citizenship (a proxy); DEU one month (IMEM 0.53)
    assert estimate["estimate"] == pytest.approx(150 + 30 + 40 * 0.53) and estimate["obs_status"] == "E"
    assert estimate["partners"] == ["DEU", "RUS", "UZB"] and estimate["partners_without_duration"] == ["RUS", "UZB"]
    bases = {d["partner"]: (d["basis"], d["proxy"], d["coefficient"]) for d in estimate["partner_details"]}
    assert bases == {"DEU": ("residence", False, 0.53), "RUS": ("residence", False, 1.0),
                     "UZB": ("citizenship", True, 1.0)}
    assert estimate["coverage"] is None and estimate["estimate_grossed_up"] is None  # no stocks yet


def test_mirror_estimate_coverage_from_stocks(client, token_for):
    push(client, token_for, "KAZ", "EMI", "RUS", "2020", "100")
    push(client, token_for, "RUS", "IMM", "KAZ", "2020", "150")
    push(client, token_for, "DEU", "IMM", "KAZ", "2020", "50")
    stock_key = {"FREQ": "A", "STOCK_BASIS": "COB", "COUNTERPART_AREA": "KAZ", "SEX": "_T", "AGE": "_T",
                 "UNIT_MEASURE": "PS", "UNIT_MULT": "0"}
    for host, (old, new) in {"RUS": (3000, 1), "DEU": (1000, 1), "USA": (1000, 1), "UZB": (5, 9)}.items():
        series = Series({**stock_key, "REF_AREA": host}, [obs("2015", str(old)), obs("2025", str(new))])
        message = ss_message([series], flow="MIGR_STOCK")
        assert client.post("/data", content=message, headers=auth(token_for(host), SS_21)).status_code == 200, host
    estimate = client.get("/stats/mirror/estimate", params={"country": "KAZ", "period": "2020",
                                                            "gross_up": True}).json()
    assert estimate["stock_period"] == "2015"  # the latest stock period not after 2020
    assert estimate["coverage"] == pytest.approx(4000 / 5005)  # RUS and DEU report; USA and UZB hold KAZ-born too
    assert estimate["estimate"] == 200 and estimate["estimate_grossed_up"] == pytest.approx(200 / (4000 / 5005))
    assert {d["partner"]: d["stock"] for d in estimate["partner_details"]} == {"DEU": 1000, "RUS": 3000}


def test_pairs_filters(client, token_for):
    for origin, destination, e, i in (("KAZ", "RUS", "100", "300"), ("KAZ", "DEU", "100", "104"),
                                      ("RUS", "KAZ", "50", "55")):
        push(client, token_for, origin, "EMI", destination, "2020", e)
        push(client, token_for, destination, "IMM", origin, "2020", i)
    get = lambda **params: {(p["origin"], p["destination"]) for p in  # noqa: E731
                            client.get("/stats/mirror/pairs", params=params).json()["pairs"]}
    assert get(region="CIS") == {("KAZ", "RUS"), ("RUS", "KAZ")}  # both countries members
    assert get(origin=["KAZ"], destination=["DEU", "RUS"]) == {("KAZ", "RUS"), ("KAZ", "DEU")}
    assert get(flag="severe") == {("KAZ", "RUS")} and get(flag=["consistent", "moderate"]) == {("KAZ", "DEU"),
                                                                                             ("RUS", "KAZ")}
    assert get(flag="consistent", consistent=0.01) == set()  # thresholds are parameters
    assert get(period="2019") == set()
    assert client.get("/stats/mirror/pairs", params={"region": "KAZ"}).status_code == 404


def test_disconnected_graph_names_the_countries():
    pairs = [Pair("SWE", "FIN", "2020", (), "residence", 100, 110), Pair("FIN", "SWE", "2020", (), "residence", 90, 95),
             Pair("KAZ", "UZB", "2020", (), "residence", 50, 80)]
    with pytest.raises(fac.Disconnected) as caught:
        fac.estimate(pairs, "SWE")
    assert caught.value.countries == ["KAZ", "UZB"]


def test_factors_on_a_consistent_toy_matrix():
    # True flows all 100; A's emigration is half-counted, B's immigration doubled: the estimator recovers it.
    truth = {("SWE", "A"): 100, ("A", "SWE"): 100, ("SWE", "B"): 100, ("B", "SWE"): 100, ("A", "B"): 100,
             ("B", "A"): 100}
    s = {"SWE": 1.0, "A": 2.0, "B": 1.0}  # reported E = true / s
    r = {"SWE": 1.0, "A": 1.0, "B": 0.5}  # reported I = true / r
    pairs = [Pair(o, d, "2020", (), "residence", v / s[o], v / r[d]) for (o, d), v in truth.items()]
    result = fac.estimate(pairs, "SWE")
    assert result.emigration["A"] == pytest.approx(2.0) and result.immigration["B"] == pytest.approx(0.5)
    flows = fac.harmonised(pairs, result)
    assert all(f["harmonised_flow"] == pytest.approx(100.0) for f in flows)


CIS = [Membership("KAZ", "1991-12-21", ""), Membership("GEO", "1993-12-09", "2009-08-18"),
       Membership("RUS", "1991-12-21", "")]


def test_aggregate_membership_over_time_coverage_and_scope():
    rows = [row("KAZ", "EMI", "_T", "2008", 100), row("GEO", "EMI", "_T", "2008", 50),
            row("RUS", "EMI", "_T", "2008", 300), row("KAZ", "EMI", "_T", "2010", 120),
            row("GEO", "EMI", "_T", "2010", 60), row("KAZ", "EMI", "RUS", "2010", 70)]
    totals = {t["period"]: t for t in aggregate(rows, CIS, "CIS", "EMI")}
    assert totals["2008"]["value"] == 450 and totals["2008"]["obs_status"] == "A"  # Georgia still a member
    assert totals["2010"]["value"] == 120 and totals["2010"]["members_expected"] == 2  # Georgia left in 2009
    assert totals["2010"]["missing"] == ["RUS"] and totals["2010"]["obs_status"] == "U"
    assert totals["2010"]["coverage"] == 0.5
    withheld = {t["period"]: t for t in aggregate(rows, CIS, "CIS", "EMI", min_coverage=0.75)}
    assert withheld["2010"]["value"] is None and withheld["2010"]["obs_status"] == "O"
    intra = {t["period"]: t for t in aggregate(rows, CIS, "CIS", "EMI", partner_scope="intra")}
    assert intra["2010"]["value"] == 70
    extra = {t["period"]: t for t in aggregate(rows, CIS, "CIS", "EMI", partner_scope="extra")}
    assert extra["2010"]["value"] == 120 - 70  # Georgia (60) is no longer a member in 2010
    filled = {t["period"]: t for t in aggregate(rows, CIS, "CIS", "EMI", fill={("RUS", "2010"): 500.0})}
    assert filled["2010"]["value"] == 620 and filled["2010"]["obs_status"] == "E"
    assert filled["2010"]["estimated"] == ["RUS"]


def test_aggregates_endpoint_uses_the_region_code_list(client, token_for):
    for country, partner, value in (("KAZ", "_T", "100"), ("UZB", "_T", "40"), ("KAZ", "UZB", "30")):
        message = ss_message([Series(key(REF_AREA=country, COUNTERPART_AREA=partner), [obs("2019", value)])])
        assert client.post("/data", content=message, headers=auth(token_for(country), SS_21)).status_code == 200
    body = client.get("/stats/aggregates", params={"region": "CIS", "period": "2019"}).json()
    (total,) = body["totals"]
    assert total["value"] == 140 and total["members_expected"] == 9 and total["obs_status"] == "U"
    intra = client.get("/stats/aggregates", params={"region": "CIS", "period": "2019", "partner_scope": "intra"})
    assert intra.json()["totals"][0]["value"] == 30
    assert client.get("/stats/aggregates", params={"region": "KAZ"}).status_code == 404


# --- the same results as SDMX, through the ordinary data endpoint ----------------------------------

def test_derived_dataflows_served_as_sdmx(real):
    import io

    import sdmx

    from exchange.settings import REPO_ROOT

    structures = sdmx.read_sdmx(REPO_ROOT / "structures" / "UNECE-migration.xml").structure
    generic = {"Accept": "application/vnd.sdmx.genericdata+xml;version=2.1"}
    response = real.get("/data/UNECE,MIGR_MIRROR,1.0/A.SWE.FIN._T._T._T.HARM+E_ORIG+I_DEST+LN_RATIO",
                        params={"startPeriod": "2016", "endPeriod": "2016"}, headers=generic)
    assert response.status_code == 200, response.text
    message = sdmx.read_sdmx(io.BytesIO(response.content), structure=structures["MIGR_MIRROR"])
    values = {str(o.key.values["MIRROR_MEASURE"].value): float(o.value) for o in message.data[0].obs}
    assert values["E_ORIG"] == 2608 and values["I_DEST"] == 2610
    assert round(values["HARM"], 1) == 2961.8 and round(values["LN_RATIO"], 6) == 0.000767
    factors = real.get("/data/MIGR_CORR_FACTOR/A.SVK.EMI.WLS_LOG?startPeriod=2016&endPeriod=2016",
                       headers={"Accept": "application/vnd.sdmx.structurespecificdata+xml;version=2.1"})
    message = sdmx.read_sdmx(io.BytesIO(factors.content), structure=structures["MIGR_CORR_FACTOR"])
    assert round(float(message.data[0].obs[0].value), 3) == 6.121  # note 4.4: SK emigration x6.1
    aggregate = real.get("/data/MIGR_FLOW_AGG/A.EU27_2020.IMM.INTRA._T._T._T.PS?startPeriod=2016&endPeriod=2016",
                         headers={"Accept": "text/csv"}).text.strip().splitlines()
    assert len(aggregate) == 2 and ",U," in aggregate[1] and ",15,27," in aggregate[1]
    assert real.get("/data/dataflow/UNECE/MIGR_MIRROR/1.0/*?c[OBS_VALUE]=gt:5").status_code == 501


def test_derived_dataflow_as_sdmx_json(real):
    response = real.get("/data/dataflow/UNECE/MIGR_CORR_FACTOR/1.0/A.SVK.EMI.WLS_LOG,A.SWE.EMI.WLS_LOG",
                        headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"})
    assert response.status_code == 200, response.text
    document = response.json()
    from tests.test_read import json_valid

    assert json_valid(document) == []
    structure = document["data"]["structures"][0]
    areas = [v["id"] for v in next(d for d in structure["dimensions"]["series"] if d["id"] == "REF_AREA")["values"]]
    assert areas == ["SVK", "SWE"] and len(document["data"]["dataSets"][0]["series"]) == 2


def test_derived_dataflow_as_of_a_past_instant(client, token_for):
    import time
    from datetime import UTC, datetime

    push(client, token_for, "KAZ", "EMI", "RUS", "2020", "100")
    push(client, token_for, "RUS", "IMM", "KAZ", "2020", "150")
    time.sleep(0.01)
    before = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    push(client, token_for, "KAZ", "EMI", "RUS", "2020", "120")  # a revision: the stored history keeps 100
    url = "/data/dataflow/UNECE/MIGR_MIRROR/1.0/A.KAZ.RUS._T._T._T.E_ORIG,A.KAZ.RUS._T._T._T.DIFF"  # 2.x: keys by ","
    csv = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}

    def values(params: dict) -> dict[str, str]:
        lines = client.get(url, params=params, headers=csv).text.strip().splitlines()
        header = lines[0].split(",")
        rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
        return {r["MIRROR_MEASURE"]: r["OBS_VALUE"] for r in rows}

    assert values({}) == {"E_ORIG": "120", "DIFF": "30"}
    assert values({"asOf": before}) == {"E_ORIG": "100", "DIFF": "50"}
