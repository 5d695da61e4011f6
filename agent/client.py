"""The agent's HTTP client for the queue: create, claim by code, join, leave, close, follow."""

import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from agent.config import ModuleConfig
from agent.errors import ModuleRevoked, Rejected, Unreachable

log = logging.getLogger("sosqueue.agent.client")

API = "/api/v1/service-requests"
TIMEOUT = (5, 15)  # connect, read


@dataclass(frozen=True)
class Ticket:
    """What the agent keeps of its request: the code and the token that opens it."""

    code: str
    customer_token: str
    status: str

    @classmethod
    def from_json(cls, body: dict) -> "Ticket":
        return cls(code=body["code"], customer_token=body["customer_token"], status=body["status"])


class QueueClient:
    """TLS is verified (with the module's own CA if it has one); system proxies apply."""

    def __init__(self, config: ModuleConfig, *, user_agent: str = "sosqueue-agent"):
        self.base_url = config.server_url
        self._module_token = config.module_token
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        if config.ca_bundle:
            self._session.verify = _ca_file(config.ca_bundle)

    def create(self, body: dict, *, idempotency_key: str, source: str) -> Ticket:
        response = self._call(
            "POST", API, token=self._module_token, json=body, params={"source": source},
            headers={"Idempotency-Key": idempotency_key},
        )
        return Ticket.from_json(response.json())

    def claim(self, code: str) -> Ticket:
        """Take over a request a supporter created, by the code the customer was given."""
        response = self._call("POST", f"{API}/{_path(code)}/claim", token=self._module_token)
        return Ticket.from_json(response.json())

    def status(self, ticket: Ticket) -> dict:
        return self._call("GET", f"{API}/{_path(ticket.code)}", token=ticket.customer_token).json()

    def join(self, ticket: Ticket) -> dict:
        return self._call("POST", f"{API}/{_path(ticket.code)}/join", token=ticket.customer_token).json()

    def leave(self, ticket: Ticket) -> dict:
        return self._call("POST", f"{API}/{_path(ticket.code)}/leave", token=ticket.customer_token).json()

    def close(self, ticket: Ticket) -> dict:
        return self._call("POST", f"{API}/{_path(ticket.code)}/close", token=ticket.customer_token).json()

    def events(self, ticket: Ticket, last_event_id: str | None = None) -> Iterator[tuple[str, str | None, dict]]:
        """Follow the request's event stream: yields (event, id, data) until it ends."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        response = self._call(
            "GET", f"{API}/{_path(ticket.code)}/events", token=ticket.customer_token,
            headers=headers, stream=True, timeout=(5, 60),
        )
        with response:
            yield from _parse_sse(response.iter_lines(decode_unicode=True))

    def _call(self, method: str, path: str, *, token: str, timeout=TIMEOUT, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        try:
            response = self._session.request(method, self.base_url + path, headers=headers, timeout=timeout, **kwargs)
        except requests.exceptions.SSLError as error:
            log.warning("TLS failure talking to %s: %s", self.base_url, error)
            raise Unreachable("The support server's certificate could not be verified.") from None
        except requests.exceptions.RequestException as error:
            log.info("cannot reach %s: %s", self.base_url, error)
            raise Unreachable(f"The support server cannot be reached ({_reason(error)}).") from None
        if response.status_code < 400:
            return response
        detail = _problem_detail(response)
        if response.status_code == 401 and token == self._module_token:
            raise ModuleRevoked()
        if response.status_code == 429 or response.status_code >= 500:
            raise Unreachable(f"The support server is busy ({response.status_code}: {detail}).")
        raise Rejected(detail, response.status_code)


def _path(code: str) -> str:
    return code.replace(" ", "")


def _problem_detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail") or response.reason)
    except ValueError:
        return response.reason or f"HTTP {response.status_code}"


def _reason(error: requests.exceptions.RequestException) -> str:
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer in time"
    if isinstance(error, requests.exceptions.ProxyError):
        return "the proxy refused the connection"
    if isinstance(error, requests.exceptions.ConnectionError):
        return "no connection: are you online?"
    return type(error).__name__


def _ca_file(pem: bytes) -> str:
    handle = tempfile.NamedTemporaryFile(prefix="sosqueue-ca-", suffix=".pem", delete=False)
    with handle:
        handle.write(pem)
    return handle.name


def _parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, str | None, dict]]:
    event, event_id, data = "message", None, []
    for line in lines:
        if line == "":
            if data:
                try:
                    yield event, event_id, json.loads("\n".join(data))
                except ValueError:
                    log.warning("ignored a malformed event from the server")
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
