"""schemathesis over the server's own OpenAPI document, with every check, for every role's token.

Every answer must be as documented: no 5xx, a documented status, a documented content type and
headers, a body that matches its schema (``Problem`` for every error), invalid data refused, and no
2xx without the token the operation declares.
"""

import re
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis import DataGenerationMethod
from schemathesis.checks import ALL_CHECKS
from schemathesis.exceptions import CheckFailed

from sosqueue.codes import normalize
from tests.support.bases import FAKE_LINUX_BASE, put_server_base
from tests.support.servers import shared_server
from tests.support.tenants import file_request, make_tenant

ROLES = ["admin", "supporter", "module", "customer"]
EXAMPLES_PER_OPERATION = 10
MIN_CASES_PER_ROLE = 250
# Operations that took the role's token with a 2xx; a module's or a customer's token is for 4 or 5 of them.
MIN_SUCCEEDED = 3
TIMEOUT = 20
PROBLEM_JSON = "application/problem+json"
# uvicorn answers malformed HTTP itself, before the application sees the request.
PROTOCOL_REJECTION = "Invalid HTTP request received."
PLAIN_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
PLAIN_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


@dataclass
class Caller:
    """One role's real token, and real identifiers, so that generated cases also reach authorized code paths."""

    role: str
    token: str
    codes: list[str]
    module_ids: list[str]


@dataclass
class Findings:
    cases: int = 0
    protocol_rejections: int = 0
    called: set[str] = field(default_factory=set)
    succeeded: set[str] = field(default_factory=set)  # operations that take a token
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(backend, request, tmp_path_factory):
    """A shared server with a Linux base agent to offer, so that the update routes answer 200 as well."""
    bases_dir = tmp_path_factory.mktemp("bases")
    put_server_base(bases_dir, "linux", FAKE_LINUX_BASE)
    return shared_server(request, backend, env={"SOSQUEUE_BASES_DIR": str(bases_dir)})


def caller(server, role: str) -> Caller:
    """A company of its own for ``role``'s run, so that no other run revokes its token or closes its requests."""
    tenant = make_tenant(server.database_url, supporters=2, assignment="round_robin")
    filed = [file_request(server.url, tenant.module_token, description=f"fuzz target {i}") for i in range(6)]
    tokens = {"admin": tenant.admin_token, "supporter": tenant.supporter_token, "module": tenant.module_token,
              "customer": filed[0]["customer_token"]}
    # A customer token opens its own request alone: aim at that one.
    codes = [filed[0]["code"]] if role == "customer" else [item["code"] for item in filed]
    return Caller(role=role, token=tokens[role], codes=codes, module_ids=[tenant.module_id])


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


def aim_at_real_things(case, data, who: Caller) -> None:
    """Swap generated path parameters for real ones most of the time."""
    parameters = case.path_parameters or {}
    if "code" in parameters and data.draw(st.booleans(), label="real code"):
        parameters["code"] = data.draw(st.sampled_from([s for c in who.codes for s in spellings(c)]), label="code")
    if "module_id" in parameters and data.draw(st.booleans(), label="real module"):
        parameters["module_id"] = data.draw(st.sampled_from(who.module_ids), label="module_id")


def has_odd_headers(case) -> bool:
    """Header names or values outside plain visible ASCII, which HTTP servers may refuse outright."""
    return any(
        not PLAIN_HEADER_NAME.fullmatch(str(name)) or not PLAIN_HEADER_VALUE.fullmatch(str(value))
        for name, value in (case.headers or {}).items()
    )


def check(case, response, findings: Findings, transport: dict) -> None:
    """Every schemathesis check: not_a_server_error, status code, content type, headers, schema,
    negative data rejection and ignored auth (which calls again without the token, and with a wrong one)."""
    if response.status_code == 400 and response.text == PROTOCOL_REJECTION and has_odd_headers(case):
        findings.protocol_rejections += 1
        return
    try:
        case.validate_response(response, checks=ALL_CHECKS, headers=transport["headers"], transport_kwargs=transport)
    except CheckFailed as error:
        findings.failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {error}")
        return
    if 200 <= response.status_code < 300 and case.operation.definition.raw.get("security"):
        findings.succeeded.add(f"{case.method} {case.path}")


def fuzz(operation, who: Caller, base_url: str, findings: Findings, http: requests.Session) -> None:
    methods = [DataGenerationMethod.positive]
    if list(operation.iter_parameters()) or list(operation.body):
        methods.append(DataGenerationMethod.negative)  # needs something to get wrong
    strategy = st.one_of([operation.as_strategy(data_generation_method=method) for method in methods])
    transport = {"base_url": base_url, "headers": {"Authorization": f"Bearer {who.token}"}, "timeout": TIMEOUT}

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, data=st.data())
    def run(case, data):
        aim_at_real_things(case, data, who)
        response = case.call(session=http, **transport)
        findings.cases += 1
        findings.called.add(operation.verbose_name)
        check(case, response, findings, transport)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_its_document_says_for_each_role(server, operations, role):
    """Schema-generated requests with one role's token: every schemathesis check passes on every answer,
    each operation is called, and the token reaches operations that succeed."""
    who = caller(server, role)
    findings = Findings()
    with requests.Session() as http:
        for operation in operations:
            fuzz(operation, who, server.url, findings, http)
    assert not findings.failures, f"{len(findings.failures)} failures:\n\n" + "\n\n".join(findings.failures[:10])
    assert findings.called == {operation.verbose_name for operation in operations}
    reached_the_app = findings.cases - findings.protocol_rejections
    assert reached_the_app >= MIN_CASES_PER_ROLE, f"only {reached_the_app} of {findings.cases} cases reached the app"
    assert len(findings.succeeded) >= MIN_SUCCEEDED, f"the {role} token succeeded only at {sorted(findings.succeeded)}"


@pytest.fixture(scope="module")
def admin(server) -> Caller:
    return caller(server, "admin")


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
def test_nul_character_in_ids_filters_and_bodies_is_a_client_error(server, admin, method, path, body):
    """A NUL character (which PostgreSQL text cannot hold) in any id, filter or field is a 4xx, never a 500."""
    url = server.url + path.format(code=admin.codes[-1])
    response = requests.request(method, url, json=body, headers={"Authorization": f"Bearer {admin.token}"},
                                timeout=TIMEOUT)
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
