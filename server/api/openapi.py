"""The API's OpenAPI document says what the server answers, errors included.

FastAPI documents each route's success, and a 422 in its own shape for routes with parameters. The
server's errors are ``application/problem+json`` (:mod:`server.problems`). :func:`install` completes
the document once FastAPI has generated it: each operation lists every problem status it can answer,
with the ``Problem`` schema, and the bearer token is a security scheme instead of a header parameter.

The statuses are derived from what a route depends on:

- the bearer token (``deps.bearer_token``): 401, with ``WWW-Authenticate``;
- a role (``deps.require_user`` and the other ``require_*``): 403;
- a path parameter: 404 (nothing of that id or code in the caller's company);
- a request body: 413 (``server.limits``), and for a JSON body 400 (not JSON) and 422;
- a query or header parameter, or a path parameter of a narrower type than ``str``: 422.

Statuses that depend on what a route does (409 for a closed request, 429 for a rate limit) are
declared where the route is, in its decorator's ``responses`` (a description is enough: the problem
content and headers are added here).

Routes of another API's shape (the TeamViewer-compatible one, ``server/api/routes/teamviewer.py``)
say so with ``error_model``, ``error_media_type`` and ``error_descriptions`` on their route class:
their errors are documented as that model, with the statuses derived as above (a validation error
is their 400), and their routers' tags are described from ``TAG_DESCRIPTIONS``.
"""

from collections.abc import Iterator

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from server import security
from server.api import deps
from server.problems import MEDIA_TYPE, ProblemDetails

PROBLEM_SCHEMA = "Problem"
BEARER_SCHEME = "bearer"
_REF = "#/components/schemas/{model}"

#: What each problem status means when the route's decorator says nothing more precise.
DESCRIPTIONS = {
    400: "the request body is not valid JSON",
    401: "no token, or one that is unknown, revoked or expired",
    403: "this token is not one this operation takes (user, admin, module or customer token)",
    404: "nothing with this id or code in the caller's company",
    409: "the current state does not allow this",
    413: "the request body is larger than the server takes",
    422: "the request is invalid; `errors` names each invalid part",
    429: "too many lately; try again after Retry-After seconds",
}

#: Headers that come with a problem status.
HEADERS = {
    401: {"WWW-Authenticate": {"description": "the scheme to authenticate with: Bearer",
                               "required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds until the next try is allowed",
                          "required": True, "schema": {"type": "integer", "minimum": 1}}},
}

_ROLES = {deps.require_user, deps.require_admin, deps.require_module, deps.require_customer}
#: The OpenAPI tags with a description of their own.
TAG_DESCRIPTIONS = {
    "TeamViewer compatibility": (
        "TeamViewer's Web API for service cases, under /tv/api/v1: point an integration written for "
        "https://webapi.teamviewer.com/api/v1 here, with a user's API token as the Bearer token. Errors are in "
        "TeamViewer's shape (error, error_description, error_code), not problem+json."),
}
_AUTHORIZATION = "authorization"


def install(app: FastAPI) -> None:
    """Complete the app's OpenAPI document with every problem response, each time FastAPI makes it."""
    generate = app.openapi
    described: dict | None = None

    def openapi() -> dict:
        nonlocal described
        schema = generate()  # FastAPI keeps it, and makes it again when the routes change
        if schema is not described:
            describe(schema, app.routes)
            described = schema
        return schema

    app.openapi = openapi


def describe(schema: dict, routes: list) -> None:
    """Add the problem responses, the ``Problem`` schema and the bearer scheme to ``schema``, in place."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    foreign: dict[str, type] = {}
    for route in api_routes(routes):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = schema["paths"][route.path_format][method.lower()]
            if model := _error_model(route):
                foreign[model.__name__] = model
                _describe_foreign_operation(operation, route)
            else:
                _describe_operation(operation, route)
    for name, model in foreign.items():
        schemas[name] = model.model_json_schema(ref_template=_REF)
    _describe_tags(schema)
    # FastAPI's own 422 shape, which the server never sends, is no longer referred to.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    problem = ProblemDetails.model_json_schema(ref_template=_REF)
    schemas.update(problem.pop("$defs", {}))
    schemas[PROBLEM_SCHEMA] = problem | {"title": PROBLEM_SCHEMA}
    components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
        "type": "http", "scheme": "bearer",
        "description": f"a user's API token ({security.USER_TOKEN_PREFIX}…), a module's token "
                       f"({security.MODULE_TOKEN_PREFIX}…) or a request's customer token "
                       f"({security.CUSTOMER_TOKEN_PREFIX}…)",
    }


def api_routes(routes: list) -> Iterator[APIRoute]:
    """The API routes among ``routes``, included routers' too: newer FastAPI keeps an included router
    whole, and gives its routes as they are included (``iter_route_contexts``), which act as routes."""
    contexts = getattr(routing, "iter_route_contexts", None)
    for route in contexts(routes) if contexts else routes:
        if isinstance(getattr(route, "original_route", route), APIRoute):
            yield route


def _describe_operation(operation: dict, route: APIRoute) -> None:
    responses = operation.setdefault("responses", {})
    statuses = problem_statuses(route)
    if "422" in responses and 422 not in statuses and not _declared(route, 422):
        del responses["422"]  # FastAPI's guess for any parameter, the authorization header included
    for status, description in statuses.items():
        if not _declared(route, status):
            responses[str(status)] = {"description": description}
    for key, response in responses.items():
        if key.isdigit() and int(key) >= 400:
            _problem_content(response, int(key))
    operation["responses"] = dict(sorted(responses.items()))
    _token_security(operation, route)


def _token_security(operation: dict, route: APIRoute) -> None:
    """A route that needs a token: the bearer scheme, in place of the Authorization header as a parameter."""
    if not _needs_token(route):
        return
    operation["security"] = [{BEARER_SCHEME: []}]
    parameters = [p for p in operation.get("parameters", [])
                  if not (p["in"] == "header" and p["name"].lower() == _AUTHORIZATION)]
    if parameters:
        operation["parameters"] = parameters
    else:
        operation.pop("parameters", None)


def _error_model(route) -> type | None:
    return getattr(getattr(route, "original_route", route), "error_model", None)


def _describe_foreign_operation(operation: dict, route: APIRoute) -> None:
    """An operation whose errors are in its route class's ``error_model``: the statuses derived as for
    the others, each with that model; the 422 of a problem is its 400, and a token of the wrong kind
    is its 403 (such an API takes one kind of token)."""
    original = getattr(route, "original_route", route)
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    statuses = set(problem_statuses(route)) - {413}  # a body too large is refused before the route, as a problem
    if _needs_token(route):
        statuses.add(403)  # such an API takes one kind of token
    if 422 in statuses:
        statuses = statuses - {422} | {400}
    for status in sorted(statuses):
        if not _declared(route, status):
            responses[str(status)] = {"description": original.error_descriptions.get(status, DESCRIPTIONS[status])}
    schema_ref = {"$ref": _REF.format(model=original.error_model.__name__)}
    for key, response in responses.items():
        if key.isdigit() and int(key) >= 400:
            response["content"] = {original.error_media_type: {"schema": schema_ref}}
            if int(key) in HEADERS:
                response["headers"] = {**HEADERS[int(key)], **response.get("headers", {})}
    operation["responses"] = dict(sorted(responses.items()))
    _token_security(operation, route)


def _describe_tags(schema: dict) -> None:
    used = {tag for methods in schema["paths"].values() for operation in methods.values()
            for tag in operation.get("tags", [])}
    tags = {tag["name"]: tag for tag in schema.get("tags", [])}
    for name, description in TAG_DESCRIPTIONS.items():
        if name in used:
            tags.setdefault(name, {"name": name, "description": description})
    if tags:
        schema["tags"] = list(tags.values())


def _problem_content(response: dict, status: int) -> None:
    """A problem response's content is ``Problem`` as problem+json (whatever FastAPI put there)."""
    response["content"] = {MEDIA_TYPE: {"schema": {"$ref": _REF.format(model=PROBLEM_SCHEMA)}}}
    if status in HEADERS:
        response["headers"] = {**HEADERS[status], **response.get("headers", {})}


def problem_statuses(route: APIRoute) -> dict[int, str]:
    """The problem statuses ``route`` answers besides those its decorator declares, each with a description."""
    dependants = [route.dependant, *_dependants(route.dependant)]
    calls = {dependant.call for dependant in dependants}
    statuses: set[int] = set()
    if deps.bearer_token in calls:
        statuses.add(401)
    if calls & _ROLES:
        statuses.add(403)
    if any(dependant.path_params for dependant in dependants):
        statuses.add(404)
    if route.body_field is not None:
        statuses |= {400, 413, 422}
    elif "requestBody" in (route.openapi_extra or {}):
        statuses.add(413)
    if _validated_parameters(dependants):
        statuses.add(422)
    derived = {status: DESCRIPTIONS[status] for status in sorted(statuses)}
    return derived


def _needs_token(route: APIRoute) -> bool:
    return any(dependant.call is deps.bearer_token for dependant in _dependants(route.dependant))


def _declared(route: APIRoute, status: int) -> bool:
    return status in route.responses or str(status) in route.responses


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def _validated_parameters(dependants: list[Dependant]) -> bool:
    """Whether a parameter can fail validation (the authorization header, or a path parameter typed
    ``str``, takes any text)."""
    for dependant in dependants:
        others = (*dependant.query_params, *dependant.header_params, *dependant.cookie_params)
        if any(field.alias.lower() != _AUTHORIZATION for field in others):
            return True
        if any(field.field_info.annotation is not str for field in dependant.path_params):
            return True
    return False
