"""The agent's HTTP client for the queue: create, claim by code, join, leave, close, add a note, follow,
the waiting room; its update offers and its brand.

HTTP goes through :mod:`agent.transport` (HTTP/1.1 from :mod:`agent.http11`), not
``requests``: ``requests`` and what it imports held 13.2 MB of the idle tray's 57.9 MB, and its
TLS context with certifi's CA store was built at import even for an ``http://`` queue.
"""

import hashlib
import hmac
import json
import logging
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from sosqueue import codes
from sosqueue.brand_refresh import ASSETS_PATH, BRAND_PATH, MAX_MANIFEST_BYTES
from sosqueue.module_config import ModuleConfig
from sosqueue.updates import UPDATES_PATH
from sosqueue.waiting_room import WaitingRoom
from agent.errors import ModuleRevoked, Rejected, StorageFailure, Unreachable
from agent.outbox import write_atomically
from agent.paths import data_dir
from agent import transport
from agent.transport import Failure, HttpClient, Response

log = logging.getLogger("sosqueue.agent.client")

API = "/api/v1/service-requests"
TIMEOUT = (5, 15)  # connect, read
PROBLEM_TYPE = "application/problem+json"  # every error the queue itself answers
PROBE_TIMEOUT = 1.0  # seconds for the TCP connect that tells whether the queue is back
CLAIM_SECRET_FILE = "claim-secret"  # in the module's data folder: what makes this computer's claim keys its own


@dataclass(frozen=True)
class Ticket:
    """What the agent keeps of its request: the code and the token that opens it (and the topic the
    customer picked, to show it)."""

    code: str
    customer_token: str
    status: str
    topic: str = ""

    @classmethod
    def from_json(cls, body: dict) -> "Ticket":
        try:
            return cls(code=_text(body["code"]), customer_token=_text(body["customer_token"]),
                       status=_text(body["status"]), topic=_text(body.get("topic") or ""))
        except (KeyError, TypeError) as error:
            raise Unreachable(f"The support server's answer is not one the agent understands ({error}).") from None


class QueueClient:
    """TLS is verified (with the module's own CA if it has one); system proxies apply."""

    def __init__(self, config: ModuleConfig, *, user_agent: str = "sosqueue-agent"):
        self.base_url = config.server_url
        self._module_id = config.module_id
        self._module_token = config.module_token
        self._claim_secret: bytes | None = None
        self._http = HttpClient(config.server_url, ca_bundle=config.ca_bundle, headers={"User-Agent": user_agent})

    def create(self, body: dict, *, idempotency_key: str, source: str) -> Ticket:
        response = self._call(
            "POST", API, token=self._module_token, json_body=body, params={"source": source},
            headers={"Idempotency-Key": idempotency_key},
        )
        return Ticket.from_json(_json(response))

    def claim(self, code: str) -> Ticket:
        """Take over a request a supporter created, by the code the customer was given.

        The queue lets a request be claimed once. Its Idempotency-Key is this computer's own for the
        code, so claiming the same code again from here (after an answer that never came, even after
        a restart) gets the same answer, while a claim from anywhere else is refused (409).
        """
        response = self._call("POST", f"{API}/{_path(code)}/claim", token=self._module_token,
                              headers={"Idempotency-Key": self._claim_key(code)})
        return Ticket.from_json(_json(response))

    def _claim_key(self, code: str) -> str:
        """An HMAC of the code in its canonical spelling with a secret that never leaves this computer's user."""
        try:
            canonical = codes.normalize(code)
        except codes.InvalidCode:
            canonical = code  # the queue answers that no request has it
        return "claim-" + hmac.new(self._secret_for_claims(), canonical.encode(), hashlib.sha256).hexdigest()

    def _secret_for_claims(self) -> bytes:
        if self._claim_secret is None:
            path = data_dir(self._module_id) / CLAIM_SECRET_FILE
            try:
                secret = path.read_bytes().strip() if path.is_file() else b""
                if len(secret) < 32:  # none yet (or not one this client wrote)
                    secret = secrets.token_hex(32).encode()
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_atomically(path, secret)
                self._claim_secret = secret
            except (OSError, StorageFailure) as error:
                # Retries from this run still match; after a restart a lost answer needs a new code.
                log.warning("cannot keep the secret for claims in %s: %s", path, error)
                self._claim_secret = secrets.token_hex(32).encode()
        return self._claim_secret

    def status(self, ticket: Ticket) -> dict:
        return _json(self._call("GET", f"{API}/{_path(ticket.code)}", token=ticket.customer_token))

    def join(self, ticket: Ticket) -> dict:
        return _json(self._call("POST", f"{API}/{_path(ticket.code)}/join", token=ticket.customer_token))

    def leave(self, ticket: Ticket) -> dict:
        return _json(self._call("POST", f"{API}/{_path(ticket.code)}/leave", token=ticket.customer_token))

    def close(self, ticket: Ticket) -> dict:
        return _json(self._call("POST", f"{API}/{_path(ticket.code)}/close", token=ticket.customer_token))

    def add_note(self, ticket: Ticket, text: str, *, idempotency_key: str) -> dict:
        """Add ``text`` to the open request (a retry with the same key adds it once)."""
        return _json(self._call("POST", f"{API}/{_path(ticket.code)}/notes", token=ticket.customer_token,
                                json_body={"text": text}, headers={"Idempotency-Key": idempotency_key}))

    def waiting_room(self, ticket: Ticket) -> WaitingRoom:
        """Where the open request stands in its group's queue.

        :raises Rejected: 404 when the queue no longer shows the request (or has no waiting room), 401
            when the token no longer opens it.
        """
        body = _json(self._call("GET", f"{API}/{_path(ticket.code)}/waiting-room", token=ticket.customer_token))
        try:
            return WaitingRoom.from_json(body)
        except (TypeError, ValueError) as error:
            raise Unreachable(f"The support server's answer is not one the agent understands ({error}).") from None

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
            try:
                yield from _parse_sse(response.iter_lines())
            except Failure as failure:
                raise Unreachable(f"The support server's event stream broke off ({_reason(failure)}).") from None

    def update_offer(self, platform: str) -> dict:
        """The server's signed update offer for ``platform`` (JSON, not yet checked).

        :raises Rejected: 404 when the server has no agent for the platform.
        """
        return _json(self._call("GET", f"{UPDATES_PATH}/{_path(platform)}", token=self._module_token))

    def update_file(self, platform: str, *, chunk_size: int = 256 * 1024) -> Iterator[bytes]:
        """The offered base agent's bytes, as they arrive (the caller checks size and SHA-256)."""
        response = self._call("GET", f"{UPDATES_PATH}/{_path(platform)}/file", token=self._module_token,
                              stream=True, timeout=(5, 60))
        with response:
            try:
                yield from response.iter_content(chunk_size)
            except Failure as failure:
                log.info("the download from %s broke off: %s", self.base_url, failure)
                raise Unreachable(f"The download from the support server broke off ({_reason(failure)}).") from None

    def brand_manifest(self, etag: str | None = None) -> tuple[bytes | None, str | None]:
        """The module's brand manifest (its body, not yet checked, and its ETag); ``None`` for the
        body while the brand is still the one ``etag`` names (304). A body is read to at most one
        byte more than a manifest may have."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._call("GET", BRAND_PATH, token=self._module_token, headers=headers, stream=True)
        with response:
            if response.status_code == 304:
                return None, etag
            return self._read_at_most(response, MAX_MANIFEST_BYTES), response.headers.get("ETag")

    def brand_asset(self, name: str, *, version: int, size: int) -> bytes:
        """The file ``name`` of brand ``version``, read to at most ``size`` + 1 bytes (the caller checks
        size and SHA-256 against the signed manifest).

        :raises Rejected: 409 when the brand changed since ``version``.
        """
        response = self._call("GET", f"{ASSETS_PATH}/{_path(name)}", token=self._module_token,
                              params={"version": version}, stream=True)
        with response:
            return self._read_at_most(response, size)

    def _read_at_most(self, response: Response, limit: int) -> bytes:
        """The body, but no more than ``limit`` + 1 bytes: a larger one is cut there, unread."""
        body = bytearray()
        try:
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > limit:
                    break
        except Failure as failure:
            log.info("the download from %s broke off: %s", self.base_url, failure)
            raise Unreachable(f"The download from the support server broke off ({_reason(failure)}).") from None
        return bytes(body[:limit + 1])

    def accepts_connections(self) -> bool:
        """Whether the queue's host takes a TCP connection now: a cheap check between retries.

        Through a proxy this may stay False while HTTP works; retries then keep their back-off.
        """
        address = urlsplit(self.base_url)
        port = address.port or (443 if address.scheme == "https" else 80)
        try:
            with socket.create_connection((address.hostname, port), timeout=PROBE_TIMEOUT):
                return True
        except (OSError, ValueError):
            return False

    def _call(self, method: str, path: str, *, token: str, timeout=TIMEOUT, headers: dict | None = None,
              **kwargs) -> Response:
        headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        try:
            response = self._http.request(method, path, headers=headers, timeout=timeout, **kwargs)
        except Failure as failure:
            if failure.kind == transport.TLS:
                log.warning("TLS failure talking to %s: %s", self.base_url, failure)
                raise Unreachable("The support server's certificate could not be verified.") from None
            log.info("cannot reach %s: %s", self.base_url, failure)
            raise Unreachable(f"The support server cannot be reached ({_reason(failure)}).") from None
        if response.status_code < 300 or response.status_code == 304:
            return response
        if response.status_code < 400 or not response.headers.get("Content-Type", "").startswith(PROBLEM_TYPE):
            # Not the queue talking (it redirects nowhere): a proxy, a captive portal, a wrong address. Retry later.
            response.close()
            log.info("answer from %s that is not the queue's: HTTP %s", self.base_url, response.status_code)
            raise Unreachable(
                f"Something other than the support server answered (HTTP {response.status_code} "
                f"{response.reason}); check the network connection."
            )
        detail, code = _problem(response)
        if response.status_code == 401 and token == self._module_token:
            raise ModuleRevoked()
        if response.status_code == 429 or response.status_code >= 500:
            raise Unreachable(f"The support server is busy ({response.status_code}: {detail}).")
        raise Rejected(detail, response.status_code, code)


def _path(code: str) -> str:
    return quote(code.replace(" ", ""), safe="")


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _json(response: Response) -> dict:
    """The queue's JSON answer; anything else (a captive portal's page) means not reached."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Unreachable(
            f"Something other than the support server answered (HTTP {response.status_code}, "
            f"{response.headers.get('Content-Type', 'no content type')}); check the network connection."
        )
    return body


def _problem(response: Response) -> tuple[str, str]:
    """A problem answer's ``detail`` (else the HTTP reason) and ``code`` ("" without one)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return response.reason or f"HTTP {response.status_code}", ""
    return str(body.get("detail") or response.reason), str(body.get("code") or "")


def _reason(failure: Failure) -> str:
    if failure.kind == transport.TIMEOUT:
        return "no answer in time"
    if failure.kind == transport.PROXY:
        return "the proxy refused the connection"
    if failure.kind in (transport.CONNECTION, transport.TLS):
        return "no connection: are you online?"
    return failure.kind


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
