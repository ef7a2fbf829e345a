"""Hostile and broken input: refused with a clear 4xx before any harm, nothing stored."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from tests.conftest import auth
from tests.helpers import SS_21, simple_message

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<mes:StructureSpecificData xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message">&lol9;</mes:StructureSpecificData>"""
QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "' + b"A" * 50_000 + b'">]><x>' + b"&a;" * 50_000
             + b"</x>")
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:9/secret">]><x>&e;</x>"""
XXE_FILE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"""


def observation_count(hub) -> int:
    table = hub.tables.table(hub.catalog.schema_for_ref("UNECE", "MIGR_FLOW"))
    with hub.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test: XML handling must never go to the network."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, QUADRATIC, XXE, XXE_FILE, b"\xef\xbb\xbf" + XXE],
                         ids=["billion-laughs", "quadratic-blowup", "xxe-http", "xxe-file", "bom-then-doctype"])
def test_dtds_are_refused_before_expansion(client, hub, token_for, body, no_network):
    response = client.post("/data", content=body, headers=auth(token_for("KAZ"), SS_21))
    assert response.status_code == 400
    issue = response.json()["issues"]["first"][0]
    assert issue["code"] == "XML_DTD_FORBIDDEN" and "DOCTYPE" in issue["fix"]
    assert observation_count(hub) == 0


def test_doctype_after_comment_is_still_found(client, token_for):
    body = b'<?xml version="1.0"?><!-- hello --><?pi x?>\n' + XXE.split(b"?>", 1)[1]
    response = client.post("/data", content=body, headers=auth(token_for("KAZ"), SS_21))
    assert response.json()["issues"]["first"][0]["code"] == "XML_DTD_FORBIDDEN"


@pytest.mark.parametrize(("mutate", "status", "code"), [
    (lambda m: m[: len(m) // 2], 400, "XML_NOT_WELL_FORMED"),  # truncated mid-element
    (lambda m: m.replace(b'REF_AREA="KAZ"', b'REF_AREA="K\xe9Z"'), 400, "XML_NOT_WELL_FORMED"),  # Latin-1 byte
    (lambda m: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10, 415, "UNRECOGNISED_CONTENT"),  # binary
    (lambda m: m.replace(b"<mes:DataSet", b"<mes:DataSet foo", 1), 400, "XML_NOT_WELL_FORMED"),
    (lambda m: m.replace(b"<Obs ", b"<Observation/><Obs ", 1), 400, "XML_SCHEMA_VIOLATION"),
], ids=["truncated", "wrong-encoding", "binary", "broken-attribute", "unknown-element"])
def test_broken_files(client, hub, token_for, mutate, status, code):
    kaz = token_for("KAZ")
    response = client.post("/data", content=mutate(simple_message()), headers=auth(kaz, None))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["issues"]["first"][0]["code"] == code and body["issues"]["first"][0]["fix"]
    assert observation_count(hub) == 0
    if "submission" in body:  # the rejection is on file with its report
        assert client.get(f"/submissions/{body['submission']}", headers=auth(kaz, None)).json()["status"] == "rejected"


def test_truncated_gzip(client, token_for):
    import gzip

    body = gzip.compress(simple_message())[:-30]
    response = client.post("/data", content=body, headers=auth(token_for("KAZ"), SS_21))
    assert response.status_code == 400
    assert response.json()["issues"]["first"][0]["code"] in ("BAD_COMPRESSION", "XML_NOT_WELL_FORMED")


def test_enormous_attribute_value(client, hub, token_for):
    huge = simple_message().replace(b'OBS_STATUS="A"', b'OBS_STATUS="' + b"A" * 5_000_000 + b'"', 1)
    response = client.post("/data", content=huge, headers=auth(token_for("KAZ"), SS_21))
    assert response.status_code == 422
    issue = response.json()["issues"]["first"][0]
    assert issue["code"] == "VALUE_TOO_LONG" and len(issue["value"]) < 300
    assert observation_count(hub) == 0


def test_structure_message_pushed_as_data(client, token_for):
    from pathlib import Path

    from exchange.settings import REPO_ROOT

    body = Path(REPO_ROOT / "structures" / "SDMX-codelists.xml").read_bytes()
    response = client.post("/data", content=body, headers=auth(token_for("KAZ"), "application/xml"))
    assert response.status_code == 400 and "POST /structure" in response.json()["issues"]["first"][0]["fix"]
