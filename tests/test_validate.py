"""One case per validation rule: each message breaks exactly one rule and the report names it precisely."""

from __future__ import annotations

import pytest

from exchange.body import spool
from exchange.ingest import Principal
from exchange.messages import Series
from exchange.validate import RULES
from tests.helpers import CSV_20, FLOW_KEY, SS_21, csv20, csv_row, dims, key, obs, ss_message

KAZ = Principal(None, "KAZ", False)
ADMIN = Principal(None, None, True)


def one_series(*observations: dict, **overrides: str) -> bytes:
    return ss_message([Series(key(**overrides), list(observations))])


CASES = [
    # (rule, message, content type, principal, component, value)
    ("UNKNOWN_COMPONENT", one_series(obs("2019", "1", COLOUR="red")), SS_21, KAZ, "COLOUR", "red"),
    ("MISSING_DIMENSION", ss_message([Series({k: v for k, v in key().items() if k != "SEX"}, [obs("2019", "1")])]),
     SS_21, KAZ, "SEX", None),
    ("UNKNOWN_CODE", one_series(obs("2019", "1"), SEX="X"), SS_21, KAZ, "SEX", "X"),
    ("OUTSIDE_CONSTRAINT", one_series(obs("2019-S1", "1"), FREQ="S"), SS_21, KAZ, "FREQ", "S"),
    ("BAD_PERIOD", one_series(obs("2019-13", "1")), SS_21, KAZ, "TIME_PERIOD", "2019-13"),
    ("PERIOD_FREQ_MISMATCH", one_series(obs("2019-01", "1")), SS_21, KAZ, "TIME_PERIOD", "2019-01"),
    ("NON_NUMERIC", one_series(obs("2019", "1,5")), SS_21, KAZ, "OBS_VALUE", "1,5"),
    ("VALUE_TOO_LONG", one_series(obs("2019", "1", COMMENT_OBS="x" * 1001)), SS_21, KAZ, "COMMENT_OBS", None),
    ("MANDATORY_ATTRIBUTE_MISSING", ss_message([Series(dims(), [obs("2019", "1")])]), SS_21, KAZ, "UNIT_MULT",
     None),
    ("ATTRIBUTE_LEVEL", one_series(obs("2019", "1", UNIT_MULT="0")), SS_21, KAZ, "UNIT_MULT", "0"),
    ("ATTRIBUTE_CONFLICT", csv20([csv_row("I", "2018"), csv_row("I", "2019").replace(",A,0", ",A,3")]), CSV_20,
     KAZ, "UNIT_MULT", None),
    ("DUPLICATE_OBSERVATION", one_series(obs("2019", "1"), obs("2019-A1", "2")), SS_21, KAZ, None, None),
    ("PROVIDER_NOT_ALLOWED", one_series(obs("2019", "1"), REF_AREA="UZB"), SS_21, KAZ, "REF_AREA", "UZB"),
    ("UNKNOWN_STRUCTURE", ss_message([Series(key(), [obs("2019", "1")])], flow="MIGR_FLOWS"), SS_21, KAZ, None,
     "dataflow=UNECE:MIGR_FLOWS(1.0)"),
    ("NO_OBSERVATION", ss_message([Series(key(), [])]), SS_21, KAZ, "TIME_PERIOD", None),
    ("DERIVED_DATAFLOW", ss_message([Series({"FREQ": "A"}, [obs("2019", "1")])], flow="MIGR_MIRROR"), SS_21, KAZ,
     None, "dataflow=UNECE:MIGR_MIRROR(1.0)"),
    ("INVALID_CHARACTER", csv20([csv_row() + ",a\x01b"], header=f"STRUCTURE,STRUCTURE_ID,ACTION,{','.join(FLOW_KEY)},"
                                "TIME_PERIOD,OBS_VALUE,OBS_STATUS,UNIT_MULT,COMMENT_OBS"), CSV_20, KAZ, "COMMENT_OBS",
     "a\\u0001b"),
    ("MISSING_STRUCTURE", csv20(["dataflow,not-a-ref,I," + ",".join(FLOW_KEY.values()) + ",2019,1,A,0"]), CSV_20,
     KAZ, None, None),
]


@pytest.mark.parametrize(("code", "message", "content_type", "principal", "component", "value"), CASES,
                         ids=[c[0] for c in CASES])
def test_each_rule(hub, code, message, content_type, principal, component, value):
    outcome = hub.ingestor.submit(spool([message], 10**8), content_type, principal)
    assert outcome.status in (404, 422)
    issues = outcome.body["issues"]
    assert [c["code"] for c in issues["by_code"]] == [code], issues
    first = issues["first"][0]
    assert first["severity"] == "error" and first["fix"] == RULES[code][1] and first["where"]
    if component:
        assert first["component"] == component
    if value:
        assert first["value"] == value


def test_every_rule_has_a_case():
    # The others have their own tests: below, and DELETE_NOT_FOUND in test_push.py.
    # The group rules are tested in test_groups.py.
    covered = {c[0] for c in CASES} | {"DELETE_NOT_FOUND", "EMPTY_MESSAGE", "UNKNOWN_GROUP", "GROUP_KEY_MISMATCH",
                                       "GROUP_UNMATCHED", "PATTERN_MISMATCH"}
    assert covered == set(RULES)


def test_duplicate_detection_normalises_periods(hub):
    message = one_series(obs("2019", "1"), obs("2019-A1", "2"))
    outcome = hub.ingestor.submit(spool([message], 10**8), SS_21, KAZ)
    issue = outcome.body["issues"]["first"][0]
    assert issue["code"] == "DUPLICATE_OBSERVATION" and issue["period"] == "2019" and "already given" in issue["message"]


def test_monthly_forms_are_one_period(hub):
    m1 = ss_message([Series(key(FREQ="M"), [obs("2019-01", "1"), obs("2019-M01", "2")])])
    outcome = hub.ingestor.submit(spool([m1], 10**8), SS_21, KAZ)
    assert [c["code"] for c in outcome.body["issues"]["by_code"]] == ["DUPLICATE_OBSERVATION"]


def test_all_occurrences_are_counted(hub):
    # A bad code on a Series element occurs once in the message; a bad value on each Obs, once per Obs.
    message = one_series(*[obs(str(y), "n/a") for y in range(1990, 2020)], SEX="X")
    outcome = hub.ingestor.submit(spool([message], 10**8), SS_21, KAZ)
    counts = {c["code"]: c["count"] for c in outcome.body["issues"]["by_code"]}
    assert counts == {"UNKNOWN_CODE": 1, "NON_NUMERIC": 30}
    # In SDMX-CSV every row carries every value: every row is an occurrence.
    rows = [csv_row("I", str(y), "n/a", SEX="X") for y in range(1990, 2020)]
    outcome = hub.ingestor.submit(spool([csv20(rows)], 10**8), CSV_20, KAZ)
    counts = {c["code"]: c["count"] for c in outcome.body["issues"]["by_code"]}
    assert counts == {"UNKNOWN_CODE": 30, "NON_NUMERIC": 30}


def test_mapping_rejection_names_national_code(hub):
    message = one_series(obs("2019", "1"), SEX="T", COUNTERPART_AREA="RU", AGE="Y5-9")
    outcome = hub.ingestor.submit(spool([message], 10**8), SS_21, KAZ)
    assert outcome.status == 200, outcome.body  # Eurostat codes mapped to the shared ones (mappings/_all)
    bad = one_series(obs("2019", "1"), REF_AREA="KZ", UNIT_MEASURE="NR", COUNTERPART_AREA="QQ")
    outcome = hub.ingestor.submit(spool([bad], 10**8), SS_21, KAZ)
    (issue,) = outcome.body["issues"]["first"]
    assert issue["code"] == "UNKNOWN_CODE" and issue["value"] == "QQ"
    good_after_mapping = hub.ingestor.submit(spool([one_series(obs("2019", "1"), REF_AREA="KZ")], 10**8), SS_21, KAZ)
    assert good_after_mapping.status == 200


def test_national_code_named_when_mapped_value_is_refused(hub):
    # EL maps to GRC; a KAZ provider may not report REF_AREA=GRC: the issue names both codes.
    outcome = hub.ingestor.submit(spool([one_series(obs("2019", "1"), REF_AREA="EL")], 10**8), SS_21, KAZ)
    issue = outcome.body["issues"]["first"][0]
    assert issue["code"] == "PROVIDER_NOT_ALLOWED" and issue["value"] == "GRC" and "'EL'" in issue["message"]


def test_pattern_facet(hub):
    import dataclasses
    import re

    from exchange.rows import Action, DataSet, Obs, StructureRef
    from exchange.validate import IssueLog, Validator, _DataSetContext

    schema = hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW")
    rule = dataclasses.replace(schema.components["COMPILING_ORG"], pattern=re.compile(r"[A-Z]{2,10}"))
    schema = dataclasses.replace(schema, components={**schema.components, "COMPILING_ORG": rule})
    log = IssueLog()
    validator = Validator(hub.catalog, log)
    dataset = DataSet(0, StructureRef("dataflow", "UNECE", "MIGR_FLOW", "1.0"), Action.MERGE)
    ctx = _DataSetContext(schema, {a: schema.level(a, "TIME_PERIOD") for a in schema.attributes})
    ok = Obs(dataset, key(COMPILING_ORG="NSO"), obs("2019", "1"), "row 1")
    bad = Obs(dataset, key(COMPILING_ORG="nso kz"), obs("2019", "1"), "row 2")
    assert validator.check(ctx, ok) is not None
    validator.check(ctx, bad)
    assert [i["code"] for i in log] == ["PATTERN_MISMATCH"]
    log.close()


def test_empty_message_is_accepted_with_a_warning(hub):
    outcome = hub.ingestor.submit(spool([ss_message([])], 10**8), SS_21, KAZ)
    assert outcome.status == 200 and outcome.body["issues"]["by_code"][0]["code"] == "EMPTY_MESSAGE"


def test_group_elements_of_a_dsd_without_groups_are_refused(hub):
    message = ss_message([Series(key(), [obs("2019", "1")])]).replace(
        b"<Series ", b'<Group xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" SEX="_T"/><Series ', 1)
    outcome = hub.ingestor.submit(spool([message], 10**8), SS_21, KAZ)
    assert outcome.status == 422 and outcome.body["issues"]["first"][0]["code"] == "UNKNOWN_GROUP"


def test_series_given_twice_in_sdmx_ml(hub):
    """A series key that comes back in a second Series element: duplicates and attribute conflicts are
    compared across the two (the SQL path), while a normal message is checked as it is read."""
    twice = ss_message([Series(key(), [obs("2018", "1")]), Series(key(UNIT_MULT="3"), [obs("2019", "2")]),
                        Series(key(UNIT_MULT="3"), [obs("2019", "3")])])
    outcome = hub.ingestor.submit(spool([twice], 10**8), SS_21, KAZ)
    counts = {c["code"]: c["count"] for c in outcome.body["issues"]["by_code"]}
    assert counts == {"DUPLICATE_OBSERVATION": 1, "ATTRIBUTE_CONFLICT": 1}


def test_many_duplicates_each_reported_once(hub, monkeypatch):
    import exchange.validate

    monkeypatch.setattr(exchange.validate, "TRACK_LIMIT", 10)  # switch to SQL half-way through
    message = one_series(*[obs(str(y), "1") for y in range(1950, 2000)], *[obs(str(y), "2") for y in range(1950, 2000)])
    outcome = hub.ingestor.submit(spool([message], 10**8), SS_21, KAZ)
    assert outcome.body["issues"]["by_code"][0] == {**outcome.body["issues"]["by_code"][0], "count": 50}
