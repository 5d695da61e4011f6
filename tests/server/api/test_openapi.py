"""The OpenAPI document lists every problem a route answers, as ``Problem`` in problem+json, and the
bearer token as a security scheme; the problems the server really sends match it."""

from dataclasses import dataclass, field

import jsonschema
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from server.api import deps
from server.api.openapi import install
from server.api.routes.teamviewer import PREFIX as TEAMVIEWER_PREFIX
from server.problems import MEDIA_TYPE
from sosqueue.platforms import Platform
from tests.server.inprocess import in_process
from tests.support.servers import sqlite_url
from tests.support.tenants import bearer, make_tenant

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
MAX_BODY = 64 * 1024


@dataclass
class Running:
    client: object
    document: dict
    tokens: dict[str, str] = field(default_factory=dict)
    closed_code: str = ""


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """The app in this process with a creation allowance of one request at a time, and a closed request."""
    url = sqlite_url(tmp_path_factory.mktemp("db"))
    with in_process(url, create_rate_per_minute=1, create_burst=1, max_body_bytes=MAX_BODY) as client:
        tenant = make_tenant(url)
        created = client.post("/api/v1/service-requests", json={"description": "to close"},
                              headers=bearer(tenant.supporter_token))
        assert created.status_code == 201, created.text
        closed = client.post(f"/api/v1/service-requests/{created.json()['code']}/close",
                             headers=bearer(tenant.supporter_token))
        assert closed.status_code == 200, closed.text
        yield Running(client=client, document=client.get("/openapi.json").json(),
                      tokens={"admin": tenant.admin_token, "supporter": tenant.supporter_token,
                              "module": tenant.module_token, "unknown": "squ_unknown"},
                      closed_code=created.json()["code"])


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_error_status_is_documented_as_a_problem_in_problem_json(running):
    """Each operation's 4xx responses have one content type, application/problem+json, with the Problem schema
    (but the TeamViewer-compatible API's, in TeamViewer's shape: tests/server/api/routes/test_teamviewer.py)."""
    wrong = [f"{name} {status}: {response.get('content')}"
             for name, operation in operations(running.document) if " " + TEAMVIEWER_PREFIX + "/" not in name
             for status, response in operation["responses"].items()
             if int(status) >= 400 and response.get("content") != {MEDIA_TYPE: {"schema": PROBLEM_REF}}]
    assert not wrong, "\n".join(wrong)
    assert "HTTPValidationError" not in running.document["components"]["schemas"]


def test_operations_that_take_a_token_declare_the_bearer_scheme_and_answer_401_with_a_challenge(running):
    """The token is a bearer security scheme, not a header parameter, and 401 comes with WWW-Authenticate."""
    scheme = running.document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    secured = {name: operation for name, operation in operations(running.document) if "security" in operation}
    assert len(secured) > 30
    for name, operation in secured.items():
        assert operation["security"] == [{"bearer": []}], name
        assert "authorization" not in {p["name"].lower() for p in operation.get("parameters", [])}, name
        assert operation["responses"]["401"]["headers"]["WWW-Authenticate"]["required"], name
    assert "security" not in running.document["paths"]["/healthz"]["get"]


PROBES = [
    # (status, token, method, path, operation's path, request keywords)
    (401, None, "GET", "/api/v1/users/me", "/api/v1/users/me", {}),
    (401, "unknown", "GET", "/api/v1/modules", "/api/v1/modules", {}),
    (403, "module", "GET", "/api/v1/users", "/api/v1/users", {}),
    (403, "supporter", "GET", "/api/v1/metrics", "/api/v1/metrics", {}),
    (403, "module", "GET", "/api/v1/service-requests/{closed}/waiting-room",
     "/api/v1/service-requests/{code}/waiting-room", {}),
    (404, "admin", "GET", "/api/v1/service-requests/s12345678", "/api/v1/service-requests/{code}", {}),
    (404, "admin", "GET", "/api/v1/service-requests?group=nobody", "/api/v1/service-requests", {}),
    (400, "admin", "GET", "/api/v1/service-requests?cursor=bm9wZQ", "/api/v1/service-requests", {}),
    (409, "supporter", "POST", "/api/v1/service-requests/{closed}/join", "/api/v1/service-requests/{code}/join", {}),
    (400, "admin", "POST", "/api/v1/groups", "/api/v1/groups",
     {"content": b"{not json", "headers": {"Content-Type": "application/json"}}),
    (413, "admin", "POST", "/api/v1/groups", "/api/v1/groups",
     {"json": {"name": "x" * (MAX_BODY + 1)}}),
    (422, "admin", "POST", "/api/v1/groups", "/api/v1/groups", {"json": {}}),
    (422, "module", "GET", "/api/v1/agent/updates/beos", "/api/v1/agent/updates/{platform}", {}),
    (429, "module", "POST", "/api/v1/service-requests", "/api/v1/service-requests",
     {"json": {"description": "twice in a row"}}),
]


@pytest.mark.parametrize(("status", "token", "method", "path", "documented_path", "keywords"), PROBES,
                         ids=[f"{p[0]}-{p[2]} {p[3]}" for p in PROBES])
def test_problems_the_server_sends_are_the_documented_ones(running, status, token, method, path, documented_path,
                                                           keywords):
    """A real 400, 401, 403, 404, 409, 413, 422 and 429: documented for the operation, as problem+json, the
    body valid against Problem and the documented headers there."""
    headers = {**keywords.pop("headers", {}), **(bearer(running.tokens[token]) if token else {})}
    url = path.format(closed=running.closed_code)
    answer = running.client.request(method, url, headers=headers, **keywords)
    if status == 429:  # the allowance is one: the second in a row is refused
        answer = running.client.request(method, url, headers=headers, **keywords)
    assert answer.status_code == status, answer.text
    documented = running.document["paths"][documented_path][method.lower()]["responses"]
    assert str(status) in documented, f"{method} {documented_path} does not list {status}: {sorted(documented)}"
    assert answer.headers["content-type"] == MEDIA_TYPE
    jsonschema.validate(answer.json(), {**PROBLEM_REF, "components": running.document["components"]})
    required = [name for name, header in documented[str(status)].get("headers", {}).items() if header["required"]]
    assert all(name in answer.headers for name in required), (required, dict(answer.headers))


def derived(build) -> dict[str, list[str]]:
    """The problem statuses the document gives each operation of a small app that ``build`` fills."""
    app = FastAPI()
    build(app)
    install(app)
    return {f"{method.upper()} {path}": sorted(status for status in operation["responses"] if int(status) >= 400)
            for path, methods in app.openapi()["paths"].items() for method, operation in methods.items()}


def test_problem_statuses_are_derived_from_what_a_route_depends_on():
    """Token: 401; role: 403; path parameter: 404; JSON body: 400, 413, 422; a validated parameter: 422."""
    class Body(BaseModel):
        name: str

    def build(app):
        app.get("/open")(lambda: {})

        @app.get("/caller")
        def caller(actor: deps.ActorDep) -> dict:
            return {}

        @app.get("/admins/{thing}")
        def admins_thing(thing: str, actor: deps.AdminActor) -> dict:
            return {}

        @app.get("/platforms/{platform}")
        def platform(platform: Platform, limit: int = 10) -> dict:
            return {}

        @app.post("/things", responses={409: {"description": "it exists"}})
        def create(body: Body, actor: deps.UserActor) -> dict:
            return {}

    assert derived(build) == {
        "GET /open": [],
        "GET /caller": ["401"],
        "GET /admins/{thing}": ["401", "403", "404"],
        "GET /platforms/{platform}": ["404", "422"],
        "POST /things": ["400", "401", "403", "409", "413", "422"],
    }
