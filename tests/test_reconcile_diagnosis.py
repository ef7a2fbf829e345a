"""Each rule of the first diagnosis (issue #10, "Evidence and a first diagnosis") on constructed pairs."""

from __future__ import annotations

from exchange.reconcile.diagnose import diagnose
from exchange.reconcile.policy import DEFAULT
from exchange.stats.mirror import Pair

BREAKDOWN = ("A", "_T", "_T", "_T", "PS")


def pair(period: str, e: float | None, i: float | None, e_dur: str | None = "M12", i_dur: str | None = "M12",
         e_src: str | None = None, i_src: str | None = None, basis: str = "residence") -> Pair:
    return Pair("KAZ", "RUS", period, BREAKDOWN, basis, e, i, e_dur, e_src, i_dur, i_src)


def codes(pairs: list[Pair], periods: list[str], basis: str = "residence") -> list[str]:
    return [s["suggestion"] for s in diagnose(pairs, periods, basis, DEFAULT)]


def test_different_duration_criterion_when_imem_brings_it_within():
    # I counts 3-month stays (R=0.63), E 12 months: 1000 vs 630 is a ratio of 1.59 (large), 1.0 once adjusted
    [s] = diagnose([pair("2019", 630, 1000, "M12", "M3")], ["2019"], "residence", DEFAULT)
    assert s["suggestion"] == "DUR_CRIT" and abs(s["figures"]["ln_ratio_imem_adjusted"]) < 0.01
    assert codes([pair("2019", 630, 1000, "M12", "M12")], ["2019"]) == []  # same criterion: no suggestion
    assert codes([pair("2019", 100, 1000, "M12", "M3")], ["2019"]) == []  # adjustment not enough


def test_timing_of_registration():
    pairs = [pair("2018", 1000, 300), pair("2019", 300, 1010)]  # E for 2018 shows up as I for 2019
    [s] = diagnose(pairs, ["2018"], "residence", DEFAULT)
    assert s["suggestion"] == "TIMING" and s["figures"]["I_period"] == "2019"
    assert codes([pair("2018", 1000, 300), pair("2019", 300, 310)], ["2018"]) == []


def test_proxy_basis_and_source_types():
    assert codes([pair("2019", 100, 100)], ["2019"], basis="citizenship") == ["CITIZENSHIP"]
    assert codes([pair("2019", 100, 300, e_src="POP_REG", i_src="SURVEY")], ["2019"]) == ["COVERAGE"]
    assert codes([pair("2019", 100, 300, e_src="POP_REG", i_src="POP_REG")], ["2019"]) == []


def test_reason_code_list_is_shared_in_english_and_russian(hub):
    from exchange.reconcile.lifecycle import reason_codes

    codes = reason_codes(hub.catalog)
    assert set(codes) == {"DUR_CRIT", "COVERAGE", "TIMING", "CITIZENSHIP", "ERROR_OWN", "ERROR_PARTNER", "UNKNOWN"}
    codelist = hub.catalog.codelists[("UNECE", "CL_RECON_REASON", "1.0")]
    assert all(set(code.name.localizations) == {"en", "ru"} for code in codelist)
