"""Generated requests against the OpenAPI spec: every answer is one the spec describes.

Schemathesis reads /openapi.json and builds requests from it (valid and invalid ones); each
goes to the app once for every role (no key, then an outreach, a city and an admin key), on
a database with the `city` fixture's sites, programs and counts: a refusal (401, 403) must be
one the spec lists too. A few dozen examples per route keep it around a minute.

(Schemathesis' own `from_fixture` does not run under pytest 9, so each route is a
parametrized test driving Hypothesis itself.)
"""

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31

from server.api.main import create_app
from server.db import make_engine
from server.models import Role
from server.settings import Settings

EXAMPLES = 30  # per route: enough to reach its error paths, quick enough for every run
# Left out: positive_data_acceptance (a schema cannot say "start before end" or "a site that
# exists", so valid-looking requests get a 422 or 404 by design), and ignored_auth (it
# sends no key and expects a refusal; the public may read shelters, summary and exports).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
ROLES = [role.value for role in Role]  # public (no key), outreach, city, admin
EVENTS = "/api/v1/events"  # the event stream never ends: a request to it never comes back


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every route in the spec; building the app touches no database."""
    spec = create_app(Settings(_env_file=None), make_engine("sqlite://")).openapi()
    return [
        (method.upper(), path)
        for path, methods in spec["paths"].items()
        if path != EVENTS
        for method in methods
    ]


def test_the_spec_is_valid_openapi_3_1(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1.")
    jsonschema.validate(spec, OPENAPI_31)  # the OpenAPI Initiative's schema, as bundled


# SMS configured, so that its routes are explored past "not configured"; no bed opens
# during a run, so nothing is ever sent to the (closed) webhook port
SMS = {
    "sms_webhook_url": "http://127.0.0.1:9/sms",
    "sms_inbound_token": SecretStr("inbound-token-for-tests"),
}


@pytest.fixture
def api_schema(engine, settings, city):
    app = create_app(settings.model_copy(update=SMS), engine)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize(("method", "path"), _operations())
def test_the_api_answers_every_request_as_its_spec_says(api_schema, headers, method, path):
    @given(case=api_schema[path][method].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,  # the same examples every run: no failure store outside the repo
    )
    def call(case):
        for role in ROLES:  # the lowest first: a refused call changes nothing for the next
            try:
                case.call_and_validate(headers=headers[role], checks=CHECKS)
            except Exception as failure:
                failure.add_note(f"sent as {role}")
                raise

    call()
