"""Generate the shared SDMX-ML 2.1 structure messages in this folder.

Run ``python structures/generate.py`` (needs the dev extra: ``pycountry``) after changing a
code list below; the XML files it writes are the reviewed artefacts the hub loads, and a test
checks them against the official SDMX-ML 2.1 XSDs.

Design source: ``reference/mirror-statistics.md`` sections 6 and 7 (the shared DSD and code lists).
"""

from __future__ import annotations

from pathlib import Path

import pycountry
from lxml import etree

HERE = Path(__file__).parent
NS = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/"
MES, STR, COM = NS + "message", NS + "structure", NS + "common"
NSMAP = {"mes": MES, "str": STR, "com": COM}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PREPARED = "2026-11-25T00:00:00Z"

# --- areas --------------------------------------------------------------------------------

HISTORICAL = {  # ISO 3166-3 entities still met in migration series (previous residence, birth)
    "SUN": "USSR", "YUG": "Yugoslavia", "CSK": "Czechoslovakia",
    "SCG": "Serbia and Montenegro", "DDR": "German Democratic Republic",
}
USER_AREAS = {"XKX": ("XK", "", "Kosovo (user-assigned code, UN Security Council resolution 1244)")}
SPECIAL_AREAS = {"_T": "Total", "UNK": "Unknown", "OTH": "Other", "_Z": "Not applicable"}

EU27 = "AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD POL PRT ROU SVK SVN ESP SWE"
EFTA = "ISL LIE NOR CHE"
EECCA = "ARM AZE BLR GEO KAZ KGZ MDA RUS TJK TKM UKR UZB"
UNECE = (
    "ALB AND ARM AUT AZE BLR BEL BIH BGR CAN HRV CYP CZE DNK EST FIN FRA GEO DEU GRC HUN ISL IRL "
    "ISR ITA KAZ KGZ LVA LIE LTU LUX MLT MCO MNE NLD MKD NOR POL PRT MDA ROU RUS SMR SRB SVK SVN "
    "ESP SWE CHE TJK TUR TKM UKR GBR USA UZB"
)
# CIS membership with validity (mirror-statistics.md 7.2): charter members from the Alma-Ata
# protocol (1991-12-21); Georgia joined 1993-12-09 and left 2009-08-18; Turkmenistan became an
# associate member on 2005-08-26. Ukraine never ratified the charter and is not listed.
CIS = {
    **{c: ("1991-12-21", "") for c in "ARM AZE BLR KAZ KGZ MDA RUS TJK UZB".split()},
    "GEO": ("1993-12-09", "2009-08-18"),
    "TKM": ("1991-12-21", "2005-08-26"),
}
# EU27_2020 is the fixed post-Brexit composition: membership does not vary over time.
REGIONS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "EU27_2020": ("European Union (27 countries, from 2020)", {c: ("", "") for c in EU27.split()}),
    "EFTA": ("European Free Trade Association", {c: ("", "") for c in EFTA.split()}),
    "CIS": ("Commonwealth of Independent States (full members)", CIS),
    "EECCA": ("Eastern Europe, Caucasus and Central Asia", {c: ("", "") for c in EECCA.split()}),
    "UNECE": ("UNECE member States", {c: ("", "") for c in UNECE.split()}),
}


def countries() -> list[tuple[str, str, str, str]]:
    """(alpha-3, alpha-2, M49, name) for every current ISO 3166-1 country."""
    rows = [(c.alpha_3, c.alpha_2, c.numeric, getattr(c, "common_name", c.name)) for c in pycountry.countries]
    return sorted(rows)


# --- small XML helpers --------------------------------------------------------------------


def el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        node.text = text
    return node


def name(parent: etree._Element, text: str) -> None:
    el(parent, COM, "Name", text, **{XML_LANG: "en"})


def annotation(parent: etree._Element, type_: str, title: str, text: str | None = None) -> None:
    anns = parent.find(f"{{{COM}}}Annotations")
    if anns is None:
        anns = el(parent, COM, "Annotations")
    ann = el(anns, COM, "Annotation")
    el(ann, COM, "AnnotationTitle", title)
    el(ann, COM, "AnnotationType", type_)
    if text is not None:
        el(ann, COM, "AnnotationText", text, **{XML_LANG: "en"})


def message(msg_id: str) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(f"{{{MES}}}Structure", nsmap=NSMAP)
    header = el(root, MES, "Header")
    el(header, MES, "ID", msg_id)
    el(header, MES, "Test", "false")
    el(header, MES, "Prepared", PREPARED)
    el(header, MES, "Sender", id="UNECE")
    return root, el(root, MES, "Structures")


def write(root: etree._Element, filename: str) -> None:
    etree.ElementTree(root).write(str(HERE / filename), xml_declaration=True, encoding="utf-8", pretty_print=True)


# --- code lists ---------------------------------------------------------------------------

SIMPLE_CODELISTS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    # id: (agency, name, [(code, name)])
    "CL_FREQ": ("UNECE", "Frequency", [("A", "Annual"), ("S", "Half-yearly"), ("Q", "Quarterly"),
                                        ("M", "Monthly"), ("W", "Weekly"), ("D", "Daily")]),
    "CL_SEX": ("UNECE", "Sex", [("F", "Female"), ("M", "Male"), ("_T", "Total"), ("_U", "Unknown"),
                                 ("_O", "Other")]),
    "CL_MIGR_FLOW": ("UNECE", "Migration flow direction", [
        ("IMM", "Immigration"), ("EMI", "Emigration"), ("NET", "Net migration")]),
    "CL_MIGRANT_TYPE": ("UNECE", "Type of migrant", [
        ("LT", "Long-term migrants (12 months or more)"), ("ST", "Short-term migrants (3 to 12 months)"),
        ("_T", "All migrants as defined nationally")]),
    "CL_DUR_CRIT": ("UNECE", "Duration criterion of stay", [
        ("M0", "Registration, no minimum duration"), ("M1", "One month or less"), ("M3", "Three months"),
        ("M6", "Six months"), ("M12", "Twelve months"), ("M12_OF_12", "Most of the last twelve months"),
        ("PERM", "Permanent (indefinite) stay"), ("OTH", "Other criterion"), ("UNK", "Unknown")]),
    "CL_DUR_BASIS": ("UNECE", "Basis of the duration criterion", [
        ("ACT", "Actual stay"), ("INT", "Intended stay"), ("MIX", "Mixed")]),
    "CL_SOURCE_TYPE": ("UNECE", "Type of data source", [
        ("POP_REG", "Population register"), ("FOR_REG", "Register of foreigners"),
        ("PERMIT", "Residence or work permits"), ("BORDER", "Border or passenger survey"),
        ("CENSUS", "Population census"), ("HH_SURVEY", "Household survey"),
        ("ADMIN_OTH", "Other administrative source"), ("MODEL", "Model-based estimate"),
        ("MIRROR", "Derived from partner data")]),
    "CL_COVERAGE": ("UNECE", "Population groups covered", [
        ("ALL", "All persons"), ("NAT_ONLY", "Nationals only"), ("FOR_ONLY", "Foreigners only"),
        ("EXCL_ASY", "Excluding asylum seekers")]),
    "CL_AGE_DEF": ("UNECE", "Age definition", [
        ("COMPLET", "Age in completed years"), ("REACH", "Age reached during the year")]),
    "CL_UNIT": ("UNECE", "Unit of measure", [("PS", "Persons"), ("PER_1000", "Per 1 000 population")]),
    "CL_STOCK_BASIS": ("UNECE", "Basis of a migrant stock", [
        ("COB", "Country of birth"), ("CIT", "Country of citizenship")]),
    # Derived (hub-computed) structures, mirror-statistics.md 6.3.
    "CL_MIRROR_MEASURE": ("UNECE", "Mirror statistics measure", [
        ("E_ORIG", "Emigration reported by the origin"), ("I_DEST", "Immigration reported by the destination"),
        ("DIFF", "Difference I - E"), ("REL_E", "Relative difference (I - E) / E"),
        ("REL_I", "Relative difference (I - E) / I"), ("RATIO_EI", "Ratio E / I"), ("LN_RATIO", "Log ratio ln(I / E)"),
        ("SYM_PCT", "Symmetric relative difference 200 (I - E) / (I + E), percent"),
        ("ASYM_SHARE", "Asymmetry share |I - E| / (I + E)"), ("E_ADJ", "Adjusted emigration"),
        ("I_ADJ", "Adjusted immigration"), ("HARM", "Harmonised flow")]),
    "CL_METHOD": ("UNECE", "Calculation method", [
        ("RAW", "Reported values, no adjustment"), ("DUR_IMEM", "Duration adjustment with the IMEM coefficients"),
        ("WLS_LOG", "Weighted least squares on log ratios"), ("LOG_LS", "Least squares on log ratios")]),
    "CL_PARTNER_SCOPE": ("UNECE", "Partners covered by an aggregate", [
        ("ALL", "All partners (reported totals)"), ("INTRA", "Partners inside the region"),
        ("EXTRA", "Partners outside the region")]),
    # SDMX global code lists (Content-Oriented Guidelines), reused, not redefined.
    "CL_OBS_STATUS": ("SDMX", "Observation status", [
        ("A", "Normal value"), ("B", "Time series break"), ("D", "Definition differs"),
        ("E", "Estimated value"), ("F", "Forecast value"), ("G", "Experimental value"),
        ("H", "Missing value; holiday or weekend"), ("I", "Imputed value"), ("J", "Derogation"),
        ("K", "Data included in another category"), ("L", "Missing value; data exist but were not collected"),
        ("M", "Missing value; data cannot exist"), ("N", "Not significant"), ("O", "Missing value"),
        ("P", "Provisional value"), ("Q", "Missing value; suppressed"), ("S", "Strike and other special events"),
        ("U", "Low reliability"), ("V", "Unvalidated value"), ("W", "Includes data from another category")]),
    "CL_CONF_STATUS": ("SDMX", "Confidentiality status", [
        ("F", "Free"), ("A", "Primary confidentiality due to small counts"), ("C", "Confidential statistical information"),
        ("D", "Secondary confidentiality set by the sender, not for publication"),
        ("E", "Embargo, then free"), ("G", "Primary confidentiality due to dominance by one unit"),
        ("M", "Primary confidentiality due to data declared confidential based on other measures of concentration"),
        ("N", "Not for publication, restricted for internal use only"),
        ("O", "Primary confidentiality due to dominance by one of two units"),
        ("S", "Secondary confidentiality set and managed by the receiver, not for publication"),
        ("T", "Primary confidentiality due to dominance by two units")]),
    "CL_UNIT_MULT": ("SDMX", "Unit multiplier", [
        (c, f"10 to the power {c}") for c in ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "12", "15")]),
    "CL_DECIMALS": ("SDMX", "Decimals", [(str(i), f"{i} decimals") for i in range(16)]),
}


def age_codes() -> list[tuple[str, str]]:
    codes = [("_T", "Total"), ("Y_LT5", "Less than 5 years")]
    codes += [(f"Y{a}T{a + 4}", f"From {a} to {a + 4} years") for a in range(5, 85, 5)]
    codes += [("Y_GE85", "85 years or over"), ("Y_LT15", "Less than 15 years"), ("Y15T64", "From 15 to 64 years"),
              ("Y_GE65", "65 years or over"), ("Y15T29", "From 15 to 29 years"), ("UNK", "Unknown")]
    return codes


#: Versions of the SDMX global code lists whose content is reproduced here (sdmx-standard.md section 7).
SDMX_VERSIONS = {"CL_OBS_STATUS": "2.2", "CL_CONF_STATUS": "1.3", "CL_UNIT_MULT": "1.1", "CL_DECIMALS": "1.0"}


def codelist(parent: etree._Element, cl_id: str, agency: str, title: str) -> etree._Element:
    version = SDMX_VERSIONS.get(cl_id, "1.0") if agency == "SDMX" else "1.0"
    cl = el(parent, STR, "Codelist", id=cl_id, agencyID=agency, version=version, isFinal="true",
            urn=f"urn:sdmx:org.sdmx.infomodel.codelist.Codelist={agency}:{cl_id}({version})")
    name(cl, title)
    return cl


def code(cl: etree._Element, code_id: str, title: str) -> etree._Element:
    node = el(cl, STR, "Code", id=code_id)
    name(node, title)
    return node


def area_codes(cl: etree._Element, extra: list[tuple[str, str]]) -> None:
    """Countries (ISO alpha-3 IDs, ISO2/M49 as annotations), historical entities, specials, extra."""
    for a3, a2, m49, title in countries():
        node = el(cl, STR, "Code", id=a3)
        annotation(node, "ISO2", a2)
        annotation(node, "M49", m49)
        name(node, title)
    for a3, title in HISTORICAL.items():
        node = el(cl, STR, "Code", id=a3)
        annotation(node, "HISTORICAL", "ISO 3166-3")
        name(node, title)
    for a3, (a2, _m49, title) in USER_AREAS.items():
        node = el(cl, STR, "Code", id=a3)
        annotation(node, "ISO2", a2)
        name(node, title)
    for code_id, title in [*SPECIAL_AREAS.items(), *extra]:
        code(cl, code_id, title)


def region_codes(cl: etree._Element) -> None:
    """Region groups: one MEMBER annotation per member, text = validity 'from/to' (open ends empty)."""
    world = {a3: ("", "") for a3, *_ in countries()}
    for code_id, (title, members) in [*REGIONS.items(), ("W00", ("World", world))]:
        node = el(cl, STR, "Code", id=code_id)
        for member, (start, end) in members.items():
            annotation(node, "MEMBER", member, f"{start}/{end}")
        annotation(node, "REGION", code_id)
        name(node, title)


def build_codelists() -> None:
    for agency, filename in (("UNECE", "UNECE-codelists.xml"), ("SDMX", "SDMX-codelists.xml")):
        root, structures = message(f"{agency}_CODELISTS")
        cls = el(structures, STR, "Codelists")
        if agency == "UNECE":
            area = codelist(cls, "CL_AREA", agency, "Reference areas and region groups")
            area_codes(area, [])
            region_codes(area)
            cit = codelist(cls, "CL_CITIZENSHIP", agency, "Citizenship")
            area_codes(cit, [("NAT", "Nationals"), ("FOR", "Foreigners"), ("FOR_EU27", "Citizens of other EU27 countries"),
                             ("STLS", "Stateless")])
            cob = codelist(cls, "CL_COB", agency, "Country of birth")
            area_codes(cob, [("NAT_BORN", "Native-born"), ("FOR_BORN", "Foreign-born")])
            age = codelist(cls, "CL_AGE", agency, "Age")
            for code_id, title in age_codes():
                code(age, code_id, title)
        for cl_id, (cl_agency, title, codes) in SIMPLE_CODELISTS.items():
            if cl_agency == agency:
                cl = codelist(cls, cl_id, agency, title)
                for code_id, code_title in codes:
                    code(cl, code_id, code_title)
        write(root, filename)


# --- concepts, DSDs, dataflows, constraint, providers -------------------------------------

CONCEPTS = {
    "FREQ": ("Frequency", "CL_FREQ"), "REF_AREA": ("Reference area (reporting country)", "CL_AREA"),
    "MIGR_FLOW": ("Migration flow direction", "CL_MIGR_FLOW"), "MIGRANT_TYPE": ("Type of migrant", "CL_MIGRANT_TYPE"),
    "COUNTERPART_AREA": ("Counterpart area (previous or next usual residence)", "CL_AREA"),
    "CITIZENSHIP": ("Citizenship", "CL_CITIZENSHIP"), "COB": ("Country of birth", "CL_COB"),
    "SEX": ("Sex", "CL_SEX"), "AGE": ("Age", "CL_AGE"), "UNIT_MEASURE": ("Unit of measure", "CL_UNIT"),
    "STOCK_BASIS": ("Basis of the stock", "CL_STOCK_BASIS"),
    "TIME_PERIOD": ("Time period", None), "OBS_VALUE": ("Observation value", None),
    "OBS_STATUS": ("Observation status", "CL_OBS_STATUS"), "CONF_STATUS": ("Confidentiality status", "CL_CONF_STATUS"),
    "UNIT_MULT": ("Unit multiplier", "CL_UNIT_MULT"), "DECIMALS": ("Decimals", "CL_DECIMALS"),
    "DUR_CRIT": ("Duration criterion", "CL_DUR_CRIT"), "DUR_BASIS": ("Basis of the duration criterion", "CL_DUR_BASIS"),
    "SOURCE_TYPE": ("Type of data source", "CL_SOURCE_TYPE"), "COVERAGE": ("Population groups covered", "CL_COVERAGE"),
    "AGE_DEF": ("Age definition", "CL_AGE_DEF"), "REF_PERIOD_DETAIL": ("Reference period detail", None),
    "COMPILING_ORG": ("Compiling organisation", None), "COMMENT_OBS": ("Observation comment", None),
    "COMMENT_TS": ("Series comment", None), "PRE_BREAK_VALUE": ("Pre-break value", None),
    "REF_DATE": ("Reference date", None),
    "ORIGIN": ("Country of origin", "CL_AREA"), "DESTINATION": ("Country of destination", "CL_AREA"),
    "MIRROR_MEASURE": ("Mirror statistics measure", "CL_MIRROR_MEASURE"), "METHOD": ("Calculation method", "CL_METHOD"),
    "BENCHMARK_AREA": ("Benchmark country of the correction factors", "CL_AREA"),
    "DUR_CRIT_ORIG": ("Duration criterion of the origin's emigration", "CL_DUR_CRIT"),
    "DUR_CRIT_DEST": ("Duration criterion of the destination's immigration", "CL_DUR_CRIT"),
    "STD_ERR": ("Standard error (of the log factor)", None),
    "PARTNER_SCOPE": ("Partners covered by the aggregate", "CL_PARTNER_SCOPE"),
    "MEMBERS_REPORTING": ("Members reporting", None), "MEMBERS_EXPECTED": ("Members expected", None),
    "COVERAGE_RATIO": ("Share of members covered", None),
}
SDMX_AGENCY_CODELISTS = {"CL_OBS_STATUS", "CL_CONF_STATUS", "CL_UNIT_MULT", "CL_DECIMALS"}

FLOW_DIMS = ["FREQ", "REF_AREA", "MIGR_FLOW", "MIGRANT_TYPE", "COUNTERPART_AREA", "CITIZENSHIP", "COB", "SEX", "AGE",
             "UNIT_MEASURE"]
STOCK_DIMS = ["FREQ", "REF_AREA", "STOCK_BASIS", "COUNTERPART_AREA", "SEX", "AGE", "UNIT_MEASURE"]
# (attribute, level, mandatory, text facet) — levels: "obs" (PrimaryMeasure) or "series" (all dimensions)
FLOW_ATTRS = [
    ("OBS_STATUS", "obs", True), ("CONF_STATUS", "obs", False), ("UNIT_MULT", "series", True),
    ("DECIMALS", "series", False), ("DUR_CRIT", "series", False), ("DUR_BASIS", "series", False),
    ("SOURCE_TYPE", "series", False), ("COVERAGE", "series", False), ("AGE_DEF", "series", False),
    ("REF_PERIOD_DETAIL", "series", False), ("COMPILING_ORG", "series", False), ("COMMENT_TS", "series", False),
    ("COMMENT_OBS", "obs", False), ("PRE_BREAK_VALUE", "obs", False),
]
STOCK_ATTRS = [a for a in FLOW_ATTRS if a[0] not in {"DUR_CRIT", "DUR_BASIS"}] + [("REF_DATE", "series", False)]
NUMERIC_TEXT = {"PRE_BREAK_VALUE", "STD_ERR", "MEMBERS_REPORTING", "MEMBERS_EXPECTED", "COVERAGE_RATIO"}
MIRROR_DIMS = ["FREQ", "ORIGIN", "DESTINATION", "MIGRANT_TYPE", "SEX", "AGE", "MIRROR_MEASURE"]
MIRROR_ATTRS = [("METHOD", "obs", False), ("BENCHMARK_AREA", "obs", False), ("DUR_CRIT_ORIG", "obs", False),
                ("DUR_CRIT_DEST", "obs", False), ("OBS_STATUS", "obs", False)]
FACTOR_DIMS = ["FREQ", "REF_AREA", "MIGR_FLOW", "METHOD"]
FACTOR_ATTRS = [("BENCHMARK_AREA", "obs", False), ("STD_ERR", "obs", False), ("OBS_STATUS", "obs", False)]
AGG_DIMS = ["FREQ", "REF_AREA", "MIGR_FLOW", "PARTNER_SCOPE", "MIGRANT_TYPE", "SEX", "AGE", "UNIT_MEASURE"]
AGG_ATTRS = [("OBS_STATUS", "obs", True), ("MEMBERS_REPORTING", "obs", False), ("MEMBERS_EXPECTED", "obs", False),
             ("COVERAGE_RATIO", "obs", False)]
#: Dataflows the hub computes (never pushed): id -> (title, what they are computed from)
DERIVED = {"MIGR_MIRROR": "Mirror statistics: origin-reported emigration against destination-reported immigration",
           "MIGR_CORR_FACTOR": "Correction factors per country and direction (weighted least squares on log ratios)",
           "MIGR_FLOW_AGG": "Regional aggregates of migration flows, with coverage"}


def concept_ref(parent: etree._Element, concept: str) -> None:
    wrapper = el(parent, STR, "ConceptIdentity")
    etree.SubElement(wrapper, "Ref", id=concept, maintainableParentID="MIGR_CONCEPTS",
                     maintainableParentVersion="1.0", agencyID="UNECE", package="conceptscheme", **{"class": "Concept"})


def local_repr(parent: etree._Element, concept: str, time: bool = False) -> None:
    rep = el(parent, STR, "LocalRepresentation")
    cl_id = CONCEPTS[concept][1]
    if cl_id:
        enum = el(rep, STR, "Enumeration")
        agency = "SDMX" if cl_id in SDMX_AGENCY_CODELISTS else "UNECE"
        version = SDMX_VERSIONS.get(cl_id, "1.0") if agency == "SDMX" else "1.0"
        etree.SubElement(enum, "Ref", id=cl_id, version=version, agencyID=agency, package="codelist",
                         **{"class": "Codelist"})
    elif time:
        el(rep, STR, "TextFormat", textType="ObservationalTimePeriod")
    elif concept in NUMERIC_TEXT or concept == "OBS_VALUE":
        el(rep, STR, "TextFormat", textType="Double")
    else:
        el(rep, STR, "TextFormat", textType="String", maxLength="1000")


def dsd(parent: etree._Element, dsd_id: str, title: str, dims: list[str], attrs: list[tuple[str, str, bool]]) -> None:
    node = el(parent, STR, "DataStructure", id=dsd_id, agencyID="UNECE", version="1.0", isFinal="true",
              urn=f"urn:sdmx:org.sdmx.infomodel.datastructure.DataStructure=UNECE:{dsd_id}(1.0)")
    name(node, title)
    comps = el(node, STR, "DataStructureComponents")
    dim_list = el(comps, STR, "DimensionList", id="DimensionDescriptor")
    for pos, dim in enumerate(dims, start=1):
        d = el(dim_list, STR, "Dimension", id=dim, position=str(pos))
        concept_ref(d, dim)
        local_repr(d, dim)
    t = el(dim_list, STR, "TimeDimension", id="TIME_PERIOD", position=str(len(dims) + 1))
    concept_ref(t, "TIME_PERIOD")
    local_repr(t, "TIME_PERIOD", time=True)
    attr_list = el(comps, STR, "AttributeList", id="AttributeDescriptor")
    for attr, level, mandatory in attrs:
        a = el(attr_list, STR, "Attribute", id=attr, assignmentStatus="Mandatory" if mandatory else "Conditional")
        concept_ref(a, attr)
        local_repr(a, attr)
        rel = el(a, STR, "AttributeRelationship")
        if level == "obs":
            pm = el(rel, STR, "PrimaryMeasure")
            etree.SubElement(pm, "Ref", id="OBS_VALUE")
        else:
            for dim in dims:
                dref = el(rel, STR, "Dimension")
                etree.SubElement(dref, "Ref", id=dim)
    measures = el(comps, STR, "MeasureList", id="MeasureDescriptor")
    pm = el(measures, STR, "PrimaryMeasure", id="OBS_VALUE")
    concept_ref(pm, "OBS_VALUE")
    local_repr(pm, "OBS_VALUE")


def dataflow(parent: etree._Element, flow_id: str, title: str, derived: bool = False) -> None:
    node = el(parent, STR, "Dataflow", id=flow_id, agencyID="UNECE", version="1.0", isFinal="true",
              urn=f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=UNECE:{flow_id}(1.0)")
    if derived:  # computed by the hub from MIGR_FLOW on every query; POST /data refuses it
        annotation(node, "EXCHANGE_DERIVED", "UNECE:MIGR_FLOW(1.0)", "Computed by the hub from the reported flows.")
    name(node, title)
    structure = el(node, STR, "Structure")
    etree.SubElement(structure, "Ref", id=flow_id, version="1.0", agencyID="UNECE", package="datastructure",
                     **{"class": "DataStructure"})


def constraint(parent: etree._Element, flow_id: str, allowed: dict[str, list[str]]) -> None:
    """Allowed ContentConstraint narrowing a dataflow (SDMX 2.1 SDMXStructureConstraint.xsd)."""
    node = el(parent, STR, "ContentConstraint", id=f"CC_{flow_id}", agencyID="UNECE", version="1.0", isFinal="true",
              type="Allowed", urn=f"urn:sdmx:org.sdmx.infomodel.registry.ContentConstraint=UNECE:CC_{flow_id}(1.0)")
    name(node, f"Allowed content of {flow_id}")
    attach = el(node, STR, "ConstraintAttachment")
    df = el(attach, STR, "Dataflow")
    etree.SubElement(df, "Ref", id=flow_id, version="1.0", agencyID="UNECE", package="datastructure",
                     **{"class": "Dataflow"})
    region = el(node, STR, "CubeRegion", include="true")
    for dim, values in allowed.items():
        kv = el(region, COM, "KeyValue", id=dim)
        for value in values:
            el(kv, COM, "Value", value)


def build_migration() -> None:
    root, structures = message("UNECE_MIGR")
    providers = el(structures, STR, "OrganisationSchemes")
    dps = el(providers, STR, "DataProviderScheme", id="DATA_PROVIDERS", agencyID="UNECE", version="1.0",
             isFinal="false", urn="urn:sdmx:org.sdmx.infomodel.base.DataProviderScheme=UNECE:DATA_PROVIDERS(1.0)")
    name(dps, "National statistical institutes reporting to the hub")
    for a3, _a2, _m49, title in countries():
        provider = el(dps, STR, "DataProvider", id=a3)
        name(provider, f"National statistical office of {title}")
    flows = el(structures, STR, "Dataflows")
    dataflow(flows, "MIGR_FLOW", "International migration flows")
    dataflow(flows, "MIGR_STOCK", "International migrant stocks")
    for flow_id, title in DERIVED.items():
        dataflow(flows, flow_id, title, derived=True)
    cons = el(structures, STR, "Concepts")
    scheme = el(cons, STR, "ConceptScheme", id="MIGR_CONCEPTS", agencyID="UNECE", version="1.0", isFinal="true",
                urn="urn:sdmx:org.sdmx.infomodel.conceptscheme.ConceptScheme=UNECE:MIGR_CONCEPTS(1.0)")
    name(scheme, "Concepts of the shared migration structures")
    for concept, (title, _cl) in CONCEPTS.items():
        c = el(scheme, STR, "Concept", id=concept)
        name(c, title)
    dsds = el(structures, STR, "DataStructures")
    dsd(dsds, "MIGR_FLOW", "International migration flows", FLOW_DIMS, FLOW_ATTRS)
    dsd(dsds, "MIGR_STOCK", "International migrant stocks", STOCK_DIMS, STOCK_ATTRS)
    dsd(dsds, "MIGR_MIRROR", DERIVED["MIGR_MIRROR"], MIRROR_DIMS, MIRROR_ATTRS)
    dsd(dsds, "MIGR_CORR_FACTOR", DERIVED["MIGR_CORR_FACTOR"], FACTOR_DIMS, FACTOR_ATTRS)
    dsd(dsds, "MIGR_FLOW_AGG", DERIVED["MIGR_FLOW_AGG"], AGG_DIMS, AGG_ATTRS)
    # Structures children follow the XSD sequence: ... DataStructures, ..., Constraints.
    constraints = el(structures, STR, "Constraints")
    reporters = [a3 for a3, *_ in countries()] + list(USER_AREAS)
    constraint(constraints, "MIGR_FLOW", {"FREQ": ["A", "Q", "M"], "REF_AREA": reporters,
                                          "MIGR_FLOW": ["IMM", "EMI", "NET"]})
    write(root, "UNECE-migration.xml")


def build_mappings() -> None:
    """Codes national and Eurostat files use -> shared codes, for every provider (mappings/_all/)."""
    folder = HERE.parent / "mappings" / "_all"
    folder.mkdir(parents=True, exist_ok=True)
    area = [(a2, a3) for a3, a2, _m49, _n in countries()] + [("EL", "GRC"), ("UK", "GBR"), ("XK", "XKX")]
    area += [("TOTAL", "_T")]
    ages = [("TOTAL", "_T"), ("Y_LT5", "Y_LT5"), ("Y_GE85", "Y_GE85")]
    ages += [(f"Y{a}-{a + 4}", f"Y{a}T{a + 4}") for a in range(5, 85, 5)]
    tables = {
        "REF_AREA": area, "COUNTERPART_AREA": area, "CITIZENSHIP": area, "COB": area,
        "SEX": [("T", "_T"), ("SEX_T", "_T"), ("SEX_M", "M"), ("SEX_F", "F")],
        "AGE": [a for a in ages if a[0] != a[1]],
        "UNIT_MEASURE": [("NR", "PS")],
    }
    for component, pairs in tables.items():
        lines = ["source,target,valid_from,valid_to"] + [f"{s},{t},," for s, t in pairs]
        (folder / f"{component}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    build_codelists()
    build_migration()
    build_mappings()
