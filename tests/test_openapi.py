"""The OpenAPI document and the hub agree: a bounded property-based run (schemathesis) over every operation
of a real hub process, with an administrator's token. No answer may be a 5xx, and every status answered must
be one the document lists for that operation (issue #9, "Done means")."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance, status_code_conformance

from tests.helpers import SS_21, simple_message

#: examples per operation: enough to reach each parameter's edges, bounded so a store's run stays short
EXAMPLES = 10
#: what a request the document allows may get: anything but 400, the answer to a malformed request (422 is
#: for content the document cannot describe, such as statistics over countries with no pair in common)
#: operations whose input is SDMX syntax a JSON Schema cannot describe (keys checked against the DSD, message
#: bodies): a request the document allows may still be malformed (400) there
FREE_SYNTAX = {"POST /data", "POST /structure", "GET /data/{path}", "GET /availableconstraint/{path}"}
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "406", "409", "413", "415", "422", "501"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - yields tests.live.LiveHub
    """The module's hub, with long polls of GET /events cut to half a second: the generated ``wait`` values
    exercise the parameter without each example holding the run for up to EXCHANGE_EVENTS_MAX_WAIT_S."""
    from tests.live import live_hub

    with live_hub(tmp_path_factory.mktemp("live"), EXCHANGE_EVENTS_MAX_WAIT_S="0.5") as hub:
        yield hub


@pytest.fixture(scope="module")
def hub_with_data(live):  # noqa: ANN201 - the live hub with some data and an administrator's token
    admin = live.token(None)
    with live.client(admin) as client:
        assert client.post("/data", content=simple_message(), headers={"Content-Type": SS_21}).status_code == 200
    return live, admin


@pytest.fixture(scope="module")
def api(hub_with_data):  # noqa: ANN201 - the document the hub serves
    hub, _admin = hub_with_data
    config = schemathesis.Config.from_dict({"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}}})
    return schemathesis.openapi.from_url(f"{hub.url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_the_hub_answers_as_its_openapi_document_says(case, hub_with_data):
    hub, admin = hub_with_data
    response = case.call(base_url=hub.url, headers={"Authorization": f"Bearer {admin}"}, timeout=60)
    checks = [not_a_server_error, status_code_conformance]
    if case.operation.label not in FREE_SYNTAX:
        checks.append(positive_data_acceptance)
    case.validate_response(response, checks=checks)
