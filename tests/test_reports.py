"""Submission reports are private to the submitting data provider and administrators; the issue-report CSV
is safe to open in a spreadsheet (issue #9). A real hub process over real HTTP, on the store under test."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass

import pytest

from exchange.api.submissions import spreadsheet_safe
from tests.helpers import CSV_20, csv20, csv_row

#: Text that spreadsheet programs run as a formula when it opens a cell, as OBS_VALUE (each one NON_NUMERIC).
FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "@SUM(1)", "-2+3"]
#: A plain negative number as an OBS_STATUS code (UNKNOWN_CODE): it must stay a number in the CSV.
NUMBER = "-12.5"


@dataclass
class Pushed:
    kaz: str  # KAZ's token
    uzb: str  # UZB's token
    admin: str
    kaz_rejected: str  # submission ids, in the order they were pushed
    kaz_accepted: str
    uzb_accepted: str
    admin_accepted: str

    @property
    def newest_first(self) -> list[str]:
        return [self.admin_accepted, self.uzb_accepted, self.kaz_accepted, self.kaz_rejected]


def quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def push(live, token: str, rows: list[str]) -> str:
    with live.client(token) as client:
        response = client.post("/data", content=csv20(rows), headers={"Content-Type": CSV_20})
        assert response.status_code in (200, 422), response.text[:500]
        return str(response.json()["submission"])


@pytest.fixture(scope="module")
def pushed(live) -> Pushed:
    kaz, uzb, admin = live.token("KAZ"), live.token("UZB"), live.token(None)
    injection = [csv_row("I", str(2001 + i), quoted(v)) for i, v in enumerate(FORMULAS)]
    injection.append(csv_row("I", "2010", "7").replace(",A,0", f",{NUMBER},0"))
    return Pushed(
        kaz, uzb, admin,
        kaz_rejected=push(live, kaz, injection),
        kaz_accepted=push(live, kaz, [csv_row("I", "2019", "5")]),
        uzb_accepted=push(live, uzb, [csv_row("I", "2019", "6", REF_AREA="UZB")]),
        admin_accepted=push(live, admin, [csv_row("I", "2019", "7", REF_AREA="KGZ")]),
    )


def report_paths(submission_id: str) -> list[str]:
    base = f"/submissions/{submission_id}"
    return [base, f"{base}?offset=0&limit=10", f"{base}/issues", f"{base}/issues?format=csv",
            f"{base}/issues?format=jsonl"]


# --- who may read ---------------------------------------------------------------------------------------


def test_reports_need_a_token(live, pushed):
    with live.client() as anonymous, live.client("exh_not-a-token") as unknown:
        for path in [*report_paths(pushed.kaz_rejected), "/submissions"]:
            for client in (anonymous, unknown):
                response = client.get(path)
                assert response.status_code == 401, path
                assert response.headers["WWW-Authenticate"] == "Bearer"
                assert "value" not in response.text and "KAZ" not in response.text


def test_another_provider_gets_404_like_an_unknown_id(live, pushed):
    with live.client(pushed.uzb) as uzb:
        for mine, path in zip(report_paths(str(uuid.uuid4())), report_paths(pushed.kaz_rejected), strict=True):
            response = uzb.get(path)
            assert response.status_code == 404, path
            unknown = uzb.get(mine)
            assert unknown.status_code == 404
            issue, expected = response.json()["issues"]["first"][0], unknown.json()["issues"]["first"][0]
            assert issue["code"] == expected["code"] == "UNKNOWN_SUBMISSION"
            assert issue["message"].replace(pushed.kaz_rejected, "ID") == expected["message"].replace(
                mine.split("/")[2].split("?")[0], "ID")
            assert "=cmd" not in response.text and "NON_NUMERIC" not in response.text


def test_the_submitting_provider_and_administrators_read_the_report(live, pushed):
    second_kaz_token = live.token("KAZ")
    for token in (pushed.kaz, second_kaz_token):  # any token of the data provider that pushed it
        with live.client(token) as kaz:
            for path in report_paths(pushed.kaz_rejected):
                assert kaz.get(path).status_code == 200, path
            report = kaz.get(f"/submissions/{pushed.kaz_rejected}").json()
            assert report["provider"] == "KAZ" and report["status"] == "rejected"
            assert report["issue_page"]["total"] == len(FORMULAS) + 1
            assert kaz.get(f"/submissions/{pushed.uzb_accepted}").status_code == 404
            assert kaz.get(f"/submissions/{pushed.admin_accepted}/issues").status_code == 404
    with live.client(pushed.admin) as admin:
        for submission_id in pushed.newest_first:
            for path in report_paths(submission_id):
                assert admin.get(path).status_code == 200, path
        assert admin.get(f"/submissions/{pushed.uzb_accepted}").json()["provider"] == "UZB"
        # Ids that cannot be submission ids are 404 without reaching the database.
        for bad in ("nope", "x" * 300, "%E2%88%9E"):
            response = admin.get(f"/submissions/{bad}")
            assert response.status_code == 404, bad
            assert response.json()["issues"]["first"][0]["code"] == "UNKNOWN_SUBMISSION"
        # A NUL never reaches a route: exchange.api.guard refuses XML-illegal characters in the URL (400).
        assert admin.get("/submissions/a%00b").status_code == 400


# --- GET /submissions -----------------------------------------------------------------------------------


def listed(live, token: str, query: str = "") -> dict:
    with live.client(token) as client:
        response = client.get(f"/submissions{query}")
        assert response.status_code == 200, response.text[:500]
        return dict(response.json())


def test_a_provider_lists_its_own_submissions_newest_first(live, pushed):
    page = listed(live, pushed.kaz)
    assert [i["id"] for i in page["items"]] == [pushed.kaz_accepted, pushed.kaz_rejected]
    assert page["total"] == 2 and "next" not in page
    first = page["items"][0]
    assert first["provider"] == "KAZ" and first["status"] == "accepted" and first["http_status"] == 200
    assert first["dataflows"] == ["dataflow=UNECE:MIGR_FLOW(1.0)"] and first["observations"] == 1
    assert first["report"] == f"/submissions/{pushed.kaz_accepted}" and first["received_at"].endswith("+00:00")
    assert page["items"][1]["issue_count"] == len(FORMULAS) + 1
    assert [i["id"] for i in listed(live, pushed.uzb)["items"]] == [pushed.uzb_accepted]


def test_an_administrator_lists_every_submission(live, pushed):
    page = listed(live, pushed.admin)
    assert [i["id"] for i in page["items"]] == pushed.newest_first
    assert [i["provider"] for i in page["items"]] == ["ADMIN", "UZB", "KAZ", "KAZ"]


def test_list_paging_follows_next_links(live, pushed):
    seen, query = [], "?limit=1"
    while query:
        page = listed(live, pushed.admin, query)
        assert page["total"] == 4 and page["limit"] == 1 and len(page["items"]) == 1
        seen += [i["id"] for i in page["items"]]
        query = page["next"].removeprefix("/submissions") if "next" in page else ""
    assert seen == pushed.newest_first
    page = listed(live, pushed.admin, "?offset=1&limit=2")
    assert [i["id"] for i in page["items"]] == pushed.newest_first[1:3] and page["next"] == "/submissions?offset=3&limit=2"
    assert listed(live, pushed.admin, "?offset=4")["items"] == []


@pytest.mark.parametrize("query", ["?limit=0", "?limit=1001", "?offset=-1", "?offset=99999999999999999999",
                                   "?status=pending", "?dataflow=MIGR%25",
                                   "?dataflow=" + "A" * 201])
def test_list_parameters_out_of_bounds_are_refused(live, pushed, query):
    with live.client(pushed.admin) as admin:
        assert admin.get(f"/submissions{query}").status_code == 422


def test_a_control_character_in_the_list_query_is_refused_before_the_route(live, pushed):
    with live.client(pushed.admin) as admin:
        assert admin.get("/submissions?dataflow=a%00b").status_code == 400  # exchange.api.guard


def test_list_filters(live, pushed):
    def ids(query: str, token: str = pushed.admin) -> list[str]:
        return [i["id"] for i in listed(live, token, query)["items"]]

    assert ids("?status=rejected") == [pushed.kaz_rejected]
    assert ids("?status=accepted", pushed.kaz) == [pushed.kaz_accepted]
    # A rejected message records no dataflow (nothing was staged), so only the three accepted ones name it.
    for flow in ("UNECE:MIGR_FLOW(1.0)", "UNECE:MIGR_FLOW", "MIGR_FLOW"):
        assert ids(f"?dataflow={flow}") == pushed.newest_first[:3]
    for flow in ("UNECE:MIGR_FLOW(2.0)", "MIGR_FLO", "IGR_FLOW", "OTHER:MIGR_FLOW", "MIGR-FLOW"):
        assert ids(f"?dataflow={flow}") == []
    page = listed(live, pushed.admin, "?dataflow=MIGR_FLOW&status=accepted&limit=1")
    assert page["total"] == 3 and page["next"] == "/submissions?offset=1&limit=1&dataflow=MIGR_FLOW&status=accepted"


# --- the issue-report CSV in a spreadsheet ----------------------------------------------------------------


def test_issue_csv_neutralises_formulas_and_keeps_numbers(live, pushed):
    with live.client(pushed.kaz) as kaz:
        response = kaz.get(f"/submissions/{pushed.kaz_rejected}/issues?format=csv")
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text)))
        jsonl = kaz.get(f"/submissions/{pushed.kaz_rejected}/issues?format=jsonl").text
    by_period = {r["period"]: r for r in rows}
    for i, formula in enumerate(FORMULAS):
        row = by_period[str(2001 + i)]
        assert row["code"] == "NON_NUMERIC" and row["value"] == "'" + formula
    assert by_period["2010"]["code"] == "UNKNOWN_CODE" and by_period["2010"]["value"] == NUMBER
    assert [r["seq"] for r in rows] == [str(i) for i in range(len(FORMULAS) + 1)]
    for row in rows:  # no cell of the report starts as a formula, whichever column it is in
        assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in row.values())
        assert all(cell == NUMBER or not cell.startswith("-") for cell in row.values())
    # JSON lines are for programs, not spreadsheets: they stay faithful.
    assert all(f'"value": "{formula}"' in jsonl for formula in FORMULAS)


def test_spreadsheet_safe_cells():
    neutralised = ["=1+2", "+SUM(A1)", "-A1", "@SUM(1)", "\t=1", "\r=1", "\n=1", "-", "-1e3x", "+ 1"]
    assert [spreadsheet_safe(cell) for cell in neutralised] == ["'" + cell for cell in neutralised]
    kept = ["-12.5", "+3", "-.5", "-1E-3", "12", "a=b", " =1", "", 7, None]
    assert [spreadsheet_safe(cell) for cell in kept] == kept
