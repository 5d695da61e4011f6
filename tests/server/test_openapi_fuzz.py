"""schemathesis over the server's own OpenAPI document: no 5xx, every error is problem+json."""

from dataclasses import dataclass, field

import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis import DataGenerationMethod
from schemathesis.specs.openapi.checks import response_schema_conformance

from sosqueue.codes import normalize
from sosqueue.updates import UPDATES_PATH
from tests.support.bases import FAKE_LINUX_BASE, put_server_base
from tests.support.servers import shared_server
from tests.support.tenants import file_request, make_tenant

EXAMPLES_PER_OPERATION = 40
MIN_CASES = 500
PROBLEM_JSON = "application/problem+json"
# uvicorn answers malformed HTTP itself, before the application sees the request.
PROTOCOL_REJECTION = "Invalid HTTP request received."
PLAIN_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
PLAIN_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


@dataclass
class Fixtures:
    """Real tokens and identifiers, so that generated cases also reach authorized code paths."""

    tokens: dict[str, str]
    codes: list[str]
    module_ids: list[str]


@dataclass
class Findings:
    cases: int = 0
    protocol_rejections: int = 0
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(backend, request, tmp_path_factory):
    """A shared server with a Linux base agent to offer, so that the update routes answer 200 as well."""
    bases_dir = tmp_path_factory.mktemp("bases")
    put_server_base(bases_dir, "linux", FAKE_LINUX_BASE)
    return shared_server(request, backend, env={"SOSQUEUE_BASES_DIR": str(bases_dir)})


@pytest.fixture(scope="module")
def real(server) -> Fixtures:
    tenant = make_tenant(server.database_url, supporters=2, assignment="round_robin")
    filed = [file_request(server.url, tenant.module_token, description=f"fuzz target {i}") for i in range(6)]
    # The fuzzed rotations and revocations reach module_ids only: this module's token keeps working.
    updating = requests.post(f"{server.url}/api/v1/modules", json={"name": "fuzz updates"}, timeout=20,
                             headers={"Authorization": f"Bearer {tenant.admin_token}"})
    assert updating.status_code == 201, updating.text
    return Fixtures(
        tokens={
            "admin": tenant.admin_token,
            "supporter": tenant.supporter_token,
            "module": tenant.module_token,
            "updating module": updating.json()["token"],
            "customer": filed[0]["customer_token"],
        },
        codes=[item["code"] for item in filed],
        module_ids=[tenant.module_id],
    )


@pytest.fixture(scope="module")
def operations(server):
    """Every operation of the OpenAPI document except the never-ending event streams."""
    schemathesis.experimental.OPEN_API_3_1.enable()  # FastAPI writes OpenAPI 3.1
    schema = schemathesis.from_uri(f"{server.url}/openapi.json", base_url=server.url)
    found = [result.ok() for result in schema.get_all_operations()]
    return [operation for operation in found if not operation.path.endswith("/events")]


def spellings(code: str) -> list[str]:
    """A real code as customers may type it."""
    compact = normalize(code)
    return [code, compact, compact.upper(), f"{compact[1:3]} {compact[3:6]} {compact[6:]}"]


def authorize(case, token: str | None) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    case.headers = headers


def aim_at_real_things(case, data, real: Fixtures) -> None:
    """Swap generated path parameters for real ones most of the time."""
    parameters = case.path_parameters or {}
    if "code" in parameters and data.draw(st.booleans(), label="real code"):
        parameters["code"] = data.draw(st.sampled_from([s for c in real.codes for s in spellings(c)]), label="code")
    if "module_id" in parameters and data.draw(st.booleans(), label="real module"):
        parameters["module_id"] = data.draw(st.sampled_from(real.module_ids), label="module_id")


def has_odd_headers(case) -> bool:
    """Header names or values outside plain visible ASCII, which HTTP servers may refuse outright."""
    return any(
        not PLAIN_HEADER_NAME.fullmatch(str(name)) or not PLAIN_HEADER_VALUE.fullmatch(str(value))
        for name, value in (case.headers or {}).items()
    )


def check(case, response, findings: Findings) -> None:
    where = f"{case.method} {case.formatted_path} -> {response.status_code}\n{case.as_curl_command()}"
    if response.status_code == 400 and response.text == PROTOCOL_REJECTION and has_odd_headers(case):
        findings.protocol_rejections += 1
        return
    if response.status_code >= 500:
        findings.failures.append(f"server error: {where}\n{response.text[:500]}")
        return
    if response.status_code >= 400:
        media_type = response.headers.get("content-type", "")
        body = response.json() if media_type.startswith(PROBLEM_JSON) else None
        if body is None or body.get("status") != response.status_code or not isinstance(body.get("detail"), str):
            findings.failures.append(f"error is not problem+json with a detail: {where}\n{media_type} {response.text[:300]}")
        return
    try:
        case.validate_response(response, checks=(response_schema_conformance,))
    except AssertionError as error:
        findings.failures.append(f"response does not match its schema: {where}\n{error}")


def callers(operation) -> list[str | None]:
    """Who calls, weighted: mostly whom the operation is for (agent updates are for modules alone)."""
    if operation.path.startswith(UPDATES_PATH):
        return ["updating module"] * 4 + ["module", "admin", "customer", None]
    return ["admin", "admin", "admin", "supporter", "supporter", "customer", "module", None]


def fuzz(operation, real: Fixtures, base_url: str, findings: Findings, http: requests.Session) -> None:
    methods = [DataGenerationMethod.positive]
    if list(operation.iter_parameters()) or list(operation.body):
        methods.append(DataGenerationMethod.negative)  # needs something to get wrong
    strategy = st.one_of([operation.as_strategy(data_generation_method=method) for method in methods])
    who = st.sampled_from(callers(operation))

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, caller=who, data=st.data())
    def run(case, caller, data):
        authorize(case, real.tokens.get(caller) if caller else None)
        aim_at_real_things(case, data, real)
        response = case.call(base_url=base_url, session=http, timeout=20)
        findings.cases += 1
        check(case, response, findings)

    run()


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error_and_errors_are_problem_json(server, operations, real):
    """At least 500 schema-generated requests: no 5xx, every error problem+json, every success as documented."""
    findings = Findings()
    with requests.Session() as http:
        for operation in operations:
            fuzz(operation, real, server.url, findings, http)
    assert not findings.failures, "\n\n".join(findings.failures[:10])
    reached_the_app = findings.cases - findings.protocol_rejections
    assert reached_the_app >= MIN_CASES, f"only {reached_the_app} of {findings.cases} cases reached the application"


NUL_PROBES = [
    ("POST", "/api/v1/modules/%00/rotate-token", None),
    ("POST", "/api/v1/modules/%00/revoke", None),
    ("GET", "/api/v1/service-requests?assignee=%00", None),
    ("GET", "/api/v1/service-requests?group=a%00", None),
    ("GET", "/api/v1/service-requests/%00", None),
    ("POST", "/api/v1/service-requests/{code}/assign", {"user": "\u0000"}),
    ("POST", "/api/v1/groups", {"name": "nul", "members": ["a\u0000@example.test"]}),
    ("POST", "/api/v1/modules", {"name": "nul", "assignment": "fixed:a\u0000@example.test"}),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_PROBES)
def test_nul_character_in_ids_filters_and_bodies_is_a_client_error(server, real, method, path, body):
    """A NUL character (which PostgreSQL text cannot hold) in any id, filter or field is a 4xx, never a 500."""
    url = server.url + path.format(code=real.codes[-1])
    response = requests.request(method, url, json=body, headers={"Authorization": f"Bearer {real.tokens['admin']}"},
                                timeout=20)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


def test_openapi_document_lists_the_public_contract(operations):
    """The document describes the contract's endpoints (and thus the fuzzing covers them)."""
    listed = {(operation.method.upper(), operation.path) for operation in operations}
    assert {
        ("GET", "/healthz"),
        ("POST", "/api/v1/service-requests"),
        ("GET", "/api/v1/service-requests"),
        ("GET", "/api/v1/service-requests/{code}"),
        ("POST", "/api/v1/service-requests/{code}/assign"),
        ("POST", "/api/v1/service-requests/{code}/close"),
    } <= listed
