"""``exchange export`` / ``exchange import`` (issue #15): a store with revisions, deletions, a pushed structure and
rejected pushes goes SQLite -> the store under test (PostgreSQL in CI's second pass) -> SQLite, and every data
query (current, ``includeHistory``, ``asOf``, ``updatedAfter``), every report and every listing answers the same."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from exchange.app import create_app
from exchange.auth import create_token
from exchange.backup import ExportRefused, ImportRefused, export_store, import_store
from exchange.hub import Hub, open_hub
from exchange.messages import Series
from exchange.settings import Settings
from tests.conftest import auth, specimen
from tests.helpers import SS_21, dims, key, obs, simple_message, ss_message
from tests.live import fresh_database

CSV = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}
GENERIC = {"Accept": "application/vnd.sdmx.genericdata+xml;version=2.1"}
#: what a message header says about the moment it was prepared, not about the data
VOLATILE_XML = re.compile(rb"<(\w+:)?(ID|Prepared)>[^<]*</(\w+:)?(ID|Prepared)>")


@contextmanager
def hub_on(url: str) -> Iterator[tuple[Hub, TestClient]]:
    settings = Settings(database_url=url)
    hub = open_hub(settings)
    try:
        with TestClient(create_app(settings, hub)) as client:
            yield hub, client
    finally:
        hub.close()


def token(hub: Hub, provider: str | None) -> str:
    with hub.engine.execution_options(write=True).begin() as conn:
        return create_token(conn, provider=provider, admin=provider is None)[1]


def fill(hub: Hub, client: TestClient) -> dict[str, str]:
    """Pushes with history: first versions, a revision, a deletion, another provider, a pushed structure and its
    data, a rejected push. Returns the moments between them (for asOf and updatedAfter) and the admin token."""
    admin, kaz, uzb = token(hub, None), token(hub, "KAZ"), token(hub, "UZB")
    moments = {"admin": admin}
    assert client.post("/structure", content=specimen("structure-ECB_EXR_NG-full.xml"),
                       headers=auth(admin)).status_code == 201
    assert client.post("/data", content=specimen("data-generic-flat-ECB_EXR_NG.xml"),
                       headers=auth(admin)).status_code == 200
    first = ss_message([Series(key(COUNTERPART_AREA=p), [obs(str(y), str(y - 2000 + i)) for y in range(2015, 2020)])
                        for i, p in enumerate(("RUS", "UZB", "KGZ"))])
    assert client.post("/data", content=first, headers=auth(kaz, SS_21)).status_code == 200
    moments["after_first"] = _moment()
    revised = ss_message([Series(key(COUNTERPART_AREA="RUS"), [obs("2019", "99.25", OBS_STATUS="E")])])
    assert client.post("/data", content=revised, headers=auth(kaz, SS_21)).status_code == 200
    moments["after_revision"] = _moment()
    deleted = ss_message([Series(dims(COUNTERPART_AREA="UZB"), [{"TIME_PERIOD": "2015"}])], action="Delete")
    assert client.post("/data", content=deleted, headers=auth(kaz, SS_21)).status_code == 200
    assert client.post("/data", content=simple_message("UZB", partners=("KAZ",)),
                       headers=auth(uzb, SS_21)).status_code == 200
    assert client.post("/data", content=simple_message("KAZ"), headers=auth(uzb, SS_21)).status_code == 422
    return moments


def _moment() -> str:
    time.sleep(0.01)  # a distinct timestamp on either side (the store's clock has microseconds)
    moment = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    return moment


def answers(client: TestClient, moments: dict[str, str]) -> dict[str, bytes]:
    """Every read the export must preserve, as bytes (message ID and Prepared left out of SDMX-ML)."""
    admin = {"Authorization": f"Bearer {moments['admin']}"}
    got: dict[str, bytes] = {}
    for name, path, headers in [
        ("current", "/data/UNECE,MIGR_FLOW,1.0/all", CSV),
        ("history", "/data/UNECE,MIGR_FLOW,1.0/all?includeHistory=true", GENERIC),
        ("history_csv", "/data/UNECE,MIGR_FLOW,1.0/all?includeHistory=true", CSV),
        ("as_of_first", f"/data/UNECE,MIGR_FLOW,1.0/all?asOf={moments['after_first']}", CSV),
        ("as_of_revision", f"/data/UNECE,MIGR_FLOW,1.0/all?asOf={moments['after_revision']}", CSV),
        ("updated_after", f"/data/UNECE,MIGR_FLOW,1.0/all?updatedAfter={moments['after_first']}", GENERIC),
        ("ecb_structure", "/structure/datastructure/ECB/ECB_EXR_NG/1.0?references=all", {}),
        ("submissions", "/submissions", admin),
    ]:
        response = client.get(path.replace("+", "%2B"), headers=headers)
        assert response.status_code == 200, (name, response.text)
        got[name] = VOLATILE_XML.sub(b"", response.content)
    for item in json.loads(got["submissions"])["items"]:
        got[item["id"]] = client.get(item["report"], headers=admin).content
        got[item["id"] + "/issues"] = client.get(item["complete_report"], headers=admin).content
    return got


def test_export_then_import_into_the_other_store_and_back_answers_the_same(tmp_path):
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    with hub_on(source_url) as (hub, client):
        moments = fill(hub, client)
        before = answers(client, moments)
    first = tmp_path / "export-1"
    done = subprocess.run([sys.executable, "-m", "exchange", "export", str(first)], capture_output=True, text=True,
                          env={**os.environ, "EXCHANGE_DATABASE_URL": source_url}, timeout=300)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["observations"]["UNECE:MIGR_FLOW(1.0)"] == {"versions": 22, "current": 19, "deleted": 1}
    assert manifest["observations"]["ECB:ECB_EXR_NG(1.0)"]["versions"] > 0  # a pushed DSD's table
    assert manifest["counts"]["submission"] == 6 and manifest["counts"]["structure_document"] == 1
    with fresh_database(tmp_path) as other_url:  # PostgreSQL when the suite runs on it
        with hub_on(other_url) as (target, _):
            import_store(target, first)
        with hub_on(other_url) as (target, client):
            assert answers(client, moments) == before
            export_store(target, tmp_path / "export-2")
            # the imported tokens work, and new rows get new ids (PostgreSQL's sequences were moved on)
            pushed = client.post("/data", content=simple_message("KAZ", years=range(2021, 2023)),
                                 headers=auth(moments["admin"], SS_21))
            assert pushed.status_code == 200 and pushed.json()["datasets"][0]["inserted"] == 2
    back_url = f"sqlite:///{tmp_path / 'back.db'}"
    with hub_on(back_url) as (back, _):
        import_store(back, tmp_path / "export-2")
    with hub_on(back_url) as (back, client):
        assert answers(client, moments) == before
    again = json.loads((tmp_path / "export-2" / "manifest.json").read_text())
    assert again["observations"] == manifest["observations"] and again["counts"] == manifest["counts"]
    for name, entry in manifest["files"].items():  # the same bytes, except the event feed's transaction ids
        if name != "tables/event.jsonl":
            assert again["files"][name]["sha256"] == entry["sha256"], name


def test_import_refuses_a_damaged_export_or_a_hub_that_is_not_empty(tmp_path):
    with hub_on(f"sqlite:///{tmp_path / 'source.db'}") as (hub, client):
        assert client.post("/data", content=simple_message(), headers=auth(token(hub, "KAZ"), SS_21)).status_code == 200
        export_store(hub, tmp_path / "export")
        with pytest.raises(ExportRefused, match="not empty"):
            export_store(hub, tmp_path / "export")
        with pytest.raises(ImportRefused, match="not empty"):  # its own store: not empty
            import_store(hub, tmp_path / "export")
    data = next((tmp_path / "export" / "data").glob("*.csv"))
    original = data.read_bytes()
    assert b",100.0," in original
    data.write_bytes(original.replace(b",100.0,", b",101.0,"))
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    with hub_on(target_url) as (target, client):
        with pytest.raises(ImportRefused, match="checksum"):
            import_store(target, tmp_path / "export")
        assert client.get("/data/UNECE,MIGR_FLOW,1.0/all", headers=CSV).status_code == 404  # nothing written
        data.write_bytes(original)
        (tmp_path / "export" / "tables" / "submission.jsonl").unlink()
        with pytest.raises(ImportRefused, match="missing"):
            import_store(target, tmp_path / "export")
    refused = subprocess.run([sys.executable, "-m", "exchange", "import", str(tmp_path / "nowhere")],
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "EXCHANGE_DATABASE_URL": target_url})
    assert refused.returncode == 2 and "manifest.json is missing" in refused.stderr
