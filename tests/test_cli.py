"""The command line, run as a user would: a real process, settings from the environment."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from importlib import resources

from sqlalchemy import func, select

from tests.helpers import csv20, csv_row, simple_message


def run(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXCHANGE_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "exchange", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_validate_good_and_bad_files(tmp_path, database_url):
    good, bad = tmp_path / "good.xml", tmp_path / "bad.csv"
    good.write_bytes(simple_message())
    bad.write_bytes(csv20([csv_row("I", "2019", "x"), csv_row("I", "2019", "1")]))
    result = run(database_url, "validate", str(good))
    assert result.returncode == 0 and result.stdout.startswith("valid: 5 observations"), result.stderr
    result = run(database_url, "validate", str(bad))
    assert result.returncode == 1
    assert "NON_NUMERIC" in result.stdout and "row 2" in result.stdout
    report = json.loads(run(database_url, "validate", "--json", str(bad)).stdout)
    assert [i["code"] for i in report["issues"]["all"]] == ["NON_NUMERIC"]
    result = run(database_url, "validate", "--provider", "UZB", str(good))
    assert result.returncode == 1 and "PROVIDER_NOT_ALLOWED" in result.stdout
    gz = tmp_path / "good.xml.gz"
    gz.write_bytes(gzip.compress(simple_message()))
    assert run(database_url, "validate", str(gz)).returncode == 0


def test_validate_needs_no_database(tmp_path):
    good = tmp_path / "good.xml"
    good.write_bytes(simple_message())
    result = run(f"sqlite:///{tmp_path / 'never' / 'created.db'}", "validate", str(good))
    assert result.returncode == 0 and not (tmp_path / "never").exists()


def test_token_create_and_revoke(database_url, hub):
    result = run(database_url, "token", "create", "--provider", "KAZ")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("exh_") and " " not in token
    assert run(database_url, "token", "create", "--provider", "XYZ").returncode == 2
    assert run(database_url, "token", "revoke", token).stdout.strip() == "revoked"
    assert run(database_url, "token", "revoke", token).returncode == 1


def expected_real_cells() -> int:
    with resources.files("exchange.data").joinpath("eu27_mirror_flows_2010_2019.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return sum(bool(r["emi_reported_by_origin"]) + bool(r["imm_reported_by_destination"]) for r in rows)


def test_demo_pushes_real_data_through_the_push_path(database_url, hub):
    result = run(database_url, "demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("HTTP 200") == 16
    table = hub.tables.table(hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW"))
    with hub.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(table)).scalar_one()
        sweden_to_finland = conn.execute(select(table.c.obs_value).where(
            table.c.ref_area == "SWE", table.c.migr_flow == "EMI", table.c.counterpart_area == "FIN",
            table.c.time_period == "2016")).scalar_one()
        finland_from_sweden = conn.execute(select(table.c.obs_value).where(
            table.c.ref_area == "FIN", table.c.migr_flow == "IMM", table.c.counterpart_area == "SWE",
            table.c.time_period == "2016")).scalar_one()
    assert stored == expected_real_cells() == 7144
    # mirror-statistics.md 8.1: SE->FI 2016, E = 2 608 (reported by Sweden), I = 2 610 (reported by Finland)
    assert (sweden_to_finland, finland_from_sweden) == (2608, 2610)


def test_mirror_and_aggregate_commands(database_url, hub):
    assert run(database_url, "demo").returncode == 0
    pairs = run(database_url, "mirror", "pairs", "--period", "2016", "--origin", "SWE", "--destination", "FIN")
    assert pairs.returncode == 0 and "2,608" in pairs.stdout and "2,610" in pairs.stdout and "consistent" in pairs.stdout
    severe = run(database_url, "mirror", "pairs", "--period", "2016", "--region", "EU27_2020", "--flag", "severe",
                 "--csv")
    flags = {r["flag"] for r in csv.DictReader(severe.stdout.splitlines())}
    assert severe.returncode == 0 and flags == {"severe"}
    factors = run(database_url, "mirror", "factors", "--period", "2016", "--csv")
    rows = list(csv.DictReader(factors.stdout.splitlines()))
    assert len(rows) == 15 and {r["country"] for r in rows if r["imm_factor_r"] == "1.0"} == {"SWE"}
    assert run(database_url, "mirror", "coverage", "--country", "SVK", "--period", "2016").stdout.count("SVK") == 1
    assert "harmonised_flow" in run(database_url, "mirror", "harmonised", "--period", "2016", "--csv").stdout
    assert run(database_url, "mirror", "estimate", "--country", "SWE", "--period", "2016").returncode == 0
    cut_off = run(database_url, "mirror", "factors", "--period", "2016", "--benchmark", "CYP")
    assert cut_off.returncode == 1 and "CYP" in cut_off.stderr
    intra = run(database_url, "aggregate", "EU27_2020", "--scope", "intra", "--flow", "IMM", "--period", "2016",
                "--csv")
    (total,) = list(csv.DictReader(intra.stdout.splitlines()))
    assert total["members_reporting"] == "15" and total["members_expected"] == "27" and total["obs_status"] == "U"
