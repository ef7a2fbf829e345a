"""POST /structure refuses any DTD, wherever it sits in the prolog, and never expands an entity (issue #9).

A real hub process over real HTTP (the ``live`` fixture), on the store under test.
"""

from __future__ import annotations

import pytest

from tests.conftest import auth

MES = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
STR = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
COM = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
#: Only the prolog checks read past this many bytes; the old check looked at the first 64 KB alone.
PAST_HEAD = 70 * 1024


def codelist_message(code_id: str = "A", name: str = "Test", list_id: str = "CL_SEC") -> bytes:
    """A minimal SDMX-ML 2.1 structure message with one code list TEST:{list_id}(1.0) holding one code."""
    return f"""<mes:Structure xmlns:mes="{MES}" xmlns:str="{STR}" xmlns:com="{COM}">
 <mes:Header><mes:ID>SEC</mes:ID><mes:Test>true</mes:Test><mes:Prepared>2026-01-01T00:00:00</mes:Prepared>
  <mes:Sender id="TEST"/></mes:Header>
 <mes:Structures><str:Codelists>
  <str:Codelist id="{list_id}" agencyID="TEST" version="1.0">
   <com:Name xml:lang="en">{name}</com:Name>
   <str:Code id="{code_id}"><com:Name xml:lang="en">{name}</com:Name></str:Code>
  </str:Codelist>
 </str:Codelists></mes:Structures>
</mes:Structure>""".encode()


DECL = b'<?xml version="1.0" encoding="UTF-8"?>\n'
ENTITY_DTD = b'<!DOCTYPE mes:Structure [<!ENTITY x "EXPANDED">]>\n'
#: The entity in an attribute (the code id) and in text (the names): libxml2 expands attribute values even
#: with resolve_entities=False, so only refusing the DTD keeps it from being expanded.
WITH_ENTITY = codelist_message(code_id="&x;", name="&x;")
LAUGHS = (b'<!DOCTYPE mes:Structure [<!ENTITY a "aaaaaaaaaa">'
          + b"".join(b'<!ENTITY a%d "%s">' % (i, (b"&a%d;" % (i - 1) if i > 1 else b"&a;") * 10) for i in range(1, 10))
          + b"]>\n")

HIDDEN = {
    "right-after-the-declaration": DECL + ENTITY_DTD + WITH_ENTITY,
    "after-64KB-comment": DECL + b"<!--" + b"x" * PAST_HEAD + b"-->\n" + ENTITY_DTD + WITH_ENTITY,
    "after-many-comments": DECL + b"<!-- padding -->\n" * (PAST_HEAD // 16) + ENTITY_DTD + WITH_ENTITY,
    "after-64KB-whitespace": DECL + b" " * PAST_HEAD + ENTITY_DTD + WITH_ENTITY,
    "after-64KB-processing-instruction": DECL + b"<?pad " + b"y" * PAST_HEAD + b"?>" + ENTITY_DTD + WITH_ENTITY,
    "utf16-after-64KB-comment": ('<?xml version="1.0" encoding="UTF-16"?><!--' + "x" * PAST_HEAD + "-->"
                                 + ENTITY_DTD.decode() + WITH_ENTITY.decode()).encode("utf-16"),
    "external-only-after-64KB-comment": (DECL + b"<!--" + b"x" * PAST_HEAD + b"-->"
                                         + b'<!DOCTYPE mes:Structure SYSTEM "http://127.0.0.1:9/x.dtd">'
                                         + codelist_message()),
    "billion-laughs-after-64KB-comment": (DECL + b"<!--" + b"x" * PAST_HEAD + b"-->" + LAUGHS
                                          + codelist_message(code_id="&a9;")),
}


@pytest.mark.parametrize("body", list(HIDDEN.values()), ids=list(HIDDEN))
def test_any_dtd_is_refused_wherever_it_hides(live, body):
    admin = live.token(None)
    with live.client(admin) as client:
        response = client.post("/structure", content=body, headers=auth(admin))
        assert response.status_code == 400, response.text[:500]
        issue = response.json()["issues"]["first"][0]
        assert issue["code"] == "XML_DTD_FORBIDDEN" and "DOCTYPE" in issue["fix"]
        # Nothing was registered: the code list (with or without an expanded id) does not exist.
        assert client.get("/codelist/TEST/CL_SEC/1.0").status_code == 404
        assert b"EXPANDED" not in response.content


def test_entity_is_never_expanded_and_clean_messages_still_pass(live):
    """On the old code the hidden DTD was obeyed: the code list was registered with the code id ``EXPANDED``."""
    admin = live.token(None)
    padding = DECL + b"<!--" + b"x" * PAST_HEAD + b"-->\n"
    with live.client(admin) as client:
        refused = client.post("/structure", content=padding + ENTITY_DTD + codelist_message("&x;", "&x;", "CL_ENT"),
                              headers=auth(admin))
        answer = client.get("/codelist/TEST/CL_ENT/1.0")
        assert refused.status_code == 400 and answer.status_code == 404 and b"EXPANDED" not in answer.content
        # The same padding without a DTD is fine: the check reads the prolog, it does not refuse long comments.
        response = client.post("/structure", content=padding + codelist_message("OK", "Clean", "CL_CLEAN"),
                               headers=auth(admin))
        assert response.status_code == 201, response.text[:500]
        answer = client.get("/codelist/TEST/CL_CLEAN/1.0")
        assert answer.status_code == 200 and b'id="OK"' in answer.content
        # A prolog that never ends is a located 400, not a 500.
        broken = client.post("/structure", content=DECL + b"<!-- never closed " + b"z" * PAST_HEAD,
                             headers=auth(admin))
        assert broken.status_code == 400 and broken.json()["issues"]["first"][0]["code"] == "XML_NOT_WELL_FORMED"


def data_message_with(prolog: bytes, root_attribute: bytes) -> bytes:
    """A valid data message whose root element carries ``root_attribute``, after ``prolog``."""
    from tests.helpers import simple_message

    message = simple_message()
    body = message.split(b"?>", 1)[1] if message.startswith(b"<?xml") else message
    return DECL + prolog + body.replace(b"<mes:StructureSpecificData", b"<mes:StructureSpecificData " + root_attribute, 1)


@pytest.mark.parametrize("padding", [b"", b"<!--" + b"x" * PAST_HEAD + b"-->\n"], ids=["at-once", "after-64KB"])
def test_push_refuses_a_dtd_before_expanding_it(live, padding):
    """POST /data streams its body: the prolog is watched as it streams, so a DOCTYPE after 64 KB of comments
    is refused before libxml2 reads its entities (the old code expanded the laughs into the root's attribute
    until libxml2's amplification limit stopped it, and answered XML_NOT_WELL_FORMED)."""
    laughs = LAUGHS.replace(b"mes:Structure", b"mes:StructureSpecificData")
    body = data_message_with(padding + laughs, b'note="&a9;"')
    token = live.token("KAZ")
    with live.client(token) as client:
        response = client.post("/data", content=body, headers=auth(token))
    assert response.status_code == 400, response.text[:500]
    assert response.json()["issues"]["first"][0]["code"] == "XML_DTD_FORBIDDEN"
