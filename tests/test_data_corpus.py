"""No data message gives a 5xx (issue #11, "Done means"): every official data sample in tests/specimens (SDMX-ML
2.1 and 3.0, SDMX-CSV 1.0-2.1, SDMX-JSON 1.0-2.1 and the legacy ECB layout), after their structures are
registered, and mutations of each (truncated, elements or keys removed, values corrupted, CSV columns broken)
pushed to ``POST /data`` answer 2xx or a clear 4xx, and a refused push stores nothing."""

from __future__ import annotations

import json
import random

import pytest
from lxml import etree
from sqlalchemy import func, select

from exchange.hub import Hub
from tests.conftest import SPECIMENS, auth, specimen
from tests.test_real_structures import ECB_LISTS, codelist_30, message_30
from tests.test_structure_corpus import removals

DATA = sorted(p.name for p in SPECIMENS.iterdir() if p.name.startswith("data-") and p.suffix in (".xml", ".csv", ".json"))
STRUCTURES = ["structure-SDMX-common-codelists.xml", "structure-ECB_EXR_NG-full.xml", "structure-ECB_EXR_SG.xml",
              "structure-ESTAT-DEMOGRAPHY.xml"]
STRUCTURES_30 = ["sdmx30-structure-datastructure-ECB_EXR.xml", "sdmx30-structure-dataflow.xml"]
#: elements whose removal breaks a data message in a way worth trying (2.1 and 3.0 names)
REMOVABLE = ["Obs", "Series", "Group", "ObsValue", "ObsDimension", "Value", "SeriesKey", "Attributes", "Header",
             "Structure", "DataSet", "Sender", "ID"]
CONTENT_TYPES = {".xml": "application/xml", ".csv": "text/csv", ".json": "application/json"}


def register_structures(client, token: str) -> None:
    """The samples' structures: the 3.0 ECB ones (with the code lists they need), then the 2.1 ones; an artefact
    already registered under the same id and version may be refused (409), which is fine here."""
    lists = message_30("<str:Codelists>" + "".join(codelist_30("ECB", i, c) for i, c in ECB_LISTS.items())
                       + "</str:Codelists>")
    bodies = [lists, specimen("sdmx30-structure-conceptscheme.xml"), *map(specimen, STRUCTURES_30),
              *map(specimen, STRUCTURES)]
    for body in bodies:
        assert client.post("/structure", content=body, headers=auth(token)).status_code in (201, 409)


def xml_mutations(body: bytes, rng: random.Random) -> list[bytes]:
    out = removals(body, rng, REMOVABLE)
    for value in ("", "X" * 300, "é€", "NaN", "-1e400", "2019-13"):
        root = etree.fromstring(body)
        attributed = [e for e in root.iter() if isinstance(e.tag, str) and e.attrib]
        element = rng.choice(attributed)
        element.set(rng.choice(sorted(element.attrib)), value)
        out.append(etree.tostring(root))
    return out


def csv_mutations(body: bytes, rng: random.Random) -> list[bytes]:
    lines = body.decode("utf-8-sig").splitlines()
    header, rows = lines[0].split(","), lines[1:]
    column = rng.randrange(len(header))
    without_column = [",".join(c for i, c in enumerate(line.split(",")) if i != column) for line in lines]
    return [
        "\n".join(without_column).encode(),
        "\n".join([lines[0], *[r + ",extra" for r in rows]]).encode(),
        "\n".join([lines[0], *[r.rsplit(",", 1)[0] for r in rows]]).encode(),
        "\n".join([lines[0].replace(header[column], header[column] + "[x]"), *rows]).encode(),
        "\n".join([lines[0], *[r.replace(",", ",\"", 1) for r in rows]]).encode(),
        "\n".join([lines[0]]).encode(),
    ]


def json_mutations(body: bytes, rng: random.Random) -> list[bytes]:
    document = json.loads(body)
    out = []
    for path in _paths(document, rng):
        mutated = json.loads(body)
        parent, key = _walk(mutated, path[:-1]), path[-1]
        del parent[key]
        out.append(json.dumps(mutated).encode())
        mutated = json.loads(body)
        _walk(mutated, path[:-1])[path[-1]] = rng.choice([None, "x", -1, [], {}, 1e308, "é" * 50])
        out.append(json.dumps(mutated).encode())
    return out


def _paths(node, rng: random.Random, prefix=(), depth: int = 0) -> list[tuple]:
    """Up to a dozen paths to members or items of the document, chosen at random, at every depth."""
    found: list[tuple] = []
    children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
    for key, child in children[:6]:
        found.append((*prefix, key))
        if depth < 5:
            found += _paths(child, rng, (*prefix, key), depth + 1)
    return rng.sample(found, min(12, len(found)))


def _walk(node, path):
    for key in path:
        node = node[key]
    return node


def mutations(name: str, body: bytes) -> list[bytes]:
    rng = random.Random(name)
    truncated = [body[: len(body) // 3], body[:-20]]
    if name.endswith(".xml"):
        return truncated + xml_mutations(body, rng)
    if name.endswith(".csv"):
        return truncated + csv_mutations(body, rng)
    return truncated + json_mutations(body, rng)


def stored(hub: Hub) -> int:
    with hub.engine.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(hub.tables.table(schema))).scalar_one()
                   for schema in hub.catalog.all_dsd_schemas())


@pytest.mark.parametrize("name", DATA)
def test_every_data_sample_and_its_mutations_answer_without_5xx(client, hub, admin_token, name):
    register_structures(client, admin_token)
    headers = auth(admin_token, CONTENT_TYPES["." + name.rsplit(".", 1)[1]])
    original = client.post("/data", content=specimen(name), headers=headers)
    assert original.status_code < 500, original.text
    for i, mutated in enumerate(mutations(name, specimen(name))):
        before = stored(hub)
        answer = client.post("/data", content=mutated, headers=headers)
        assert answer.status_code < 500, f"mutation {i}: {answer.text}"
        if answer.status_code >= 400:
            assert answer.json()["message"], f"mutation {i}: {answer.text}"
            assert stored(hub) == before, f"mutation {i} was refused but stored rows"
