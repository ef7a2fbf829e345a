"""Reconciliation through a real hub process over HTTP, driven by the ``exchange reconcile`` CLI (issue #10)."""

from __future__ import annotations

import pytest

from exchange.cli import main
from tests.helpers import SS_21, ss_message
from tests.test_reconcile import emigration, immigration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    return int(done.value.code or 0), capsys.readouterr().out


def test_case_workflow_over_http_with_the_cli(live, capsys):
    kaz, rus, kgz = live.token("KAZ"), live.token("RUS"), live.token("KGZ")
    for token, series in ((kaz, emigration("KAZ", "RUS", {"2019": 100})),
                          (rus, immigration("RUS", "KAZ", {"2019": 1000}))):
        with live.client(token) as client:
            assert client.post("/data", content=ss_message([series]),
                               headers={"Content-Type": SS_21}).status_code == 200
    common = ("--url", live.url, "--token")
    code, out = run(capsys, "reconcile", "list", *common, kaz)
    assert code == 0 and "KAZ" in out and "open" in out
    with live.client(kaz) as client:
        case_id = str(client.get("/reconciliations").json()["items"][0]["id"])
    assert run(capsys, "reconcile", "ack", *common, kgz, case_id)[0] == 1  # third country: 404
    code, out = run(capsys, "reconcile", "explain", *common, rus, case_id, "NOPE")
    assert code == 1 and "DUR_CRIT" in out
    assert run(capsys, "reconcile", "ack", *common, rus, case_id) == (0, f"case {case_id}: acknowledged\n")
    assert run(capsys, "reconcile", "explain", *common, rus, case_id, "TIMING", "--text", "late")[0] == 0
    assert run(capsys, "reconcile", "comment", *common, kaz, case_id, "checking")[0] == 0
    assert run(capsys, "reconcile", "close", *common, kaz, case_id)[0] == 0
    assert run(capsys, "reconcile", "close", *common, rus, case_id) == (0, f"case {case_id}: closed\n")
    code, out = run(capsys, "reconcile", "show", *common, kaz, case_id)
    assert code == 0 and "closed" in out and "2019" in out and "checking" in out
    code, out = run(capsys, "reconcile", "request", *common, kaz, "KAZ", "UZB", "--period", "2019", "--data")
    assert code == 0 and "open" in out
    with live.client() as anonymous:
        states = {i["state"] for i in anonymous.get("/reconciliations/summary").json()["items"]}
    assert states == {"closed", "open"}
