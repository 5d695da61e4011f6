"""Real receivers for notifications on loopback: an SMTP server and a webhook endpoint.

The webhook receiver checks signatures by the documented recipe on its own, without the
server's code, so a test proves the contract a company's receiver relies on.
"""

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.certificates import self_signed
from tests.support.polling import eventually
from tests.support.servers import free_port


# -- SMTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted email: its envelope and its message exactly as sent."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: str | None  # who authenticated for it, if anyone

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)

    @property
    def text(self) -> str:
        """The decoded body, with the wire's CRLF line endings read as ``\n``."""
        return self.message.get_content().replace("\r\n", "\n")


class _MailHandler:
    def __init__(self, receiver: "SmtpReceiver"):
        self._receiver = receiver

    async def handle_DATA(self, server, session, envelope) -> str:
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else None
        mail = ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content, login)
        with self._receiver.lock:
            self._receiver.mails.append(mail)
        return "250 OK"


class SmtpReceiver:
    """An aiosmtpd server on a free loopback port that keeps every email it accepts.

    With ``credentials`` it demands AUTH LOGIN/PLAIN with them; with ``tls`` (a TlsFiles) it
    offers STARTTLS (``implicit_tls=False``) or speaks TLS from the start (``implicit_tls=True``).
    """

    def __init__(self, *, credentials: tuple[str, str] | None = None, tls: "TlsFiles | None" = None,
                 implicit_tls: bool = False):
        self.port = free_port()
        self.mails: list[ReceivedMail] = []
        self.lock = threading.Lock()
        options: dict = {}
        if credentials is not None:
            options.update(authenticator=_authenticator(credentials), auth_required=True)
        if tls is not None:
            context = tls.server_context()
            if implicit_tls:  # aiosmtpd sees no STARTTLS here, so it must be told the link is encrypted
                options.update(ssl_context=context, auth_require_tls=False)
            else:
                options.update(tls_context=context, require_starttls=True)
        self._controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port, **options)

    def start(self) -> "SmtpReceiver":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *_):
        self.stop()

    def to(self, address: str) -> list[ReceivedMail]:
        """Every email so far whose envelope went to ``address``."""
        with self.lock:
            return [mail for mail in self.mails if address in mail.rcpt_tos]

    def wait_for(self, address: str, count: int = 1) -> list[ReceivedMail]:
        """Wait until ``address`` got ``count`` emails; returns them."""
        return eventually(lambda: len(self.to(address)) >= count and self.to(address),
                          what=f"{count} email(s) to {address}")


def _authenticator(credentials: tuple[str, str]):
    user, password = credentials

    def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (user.encode(), password.encode())
        return AuthResult(success=ok, auth_data=auth_data.login if ok else None)

    return check


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for ``localhost`` and its key, made with the openssl tool."""

    cert: Path
    key: Path

    @classmethod
    def make(cls, directory: Path) -> "TlsFiles":
        return cls(*self_signed(directory, common_name="localhost", alt_name="DNS:localhost"))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


# -- webhooks -----------------------------------------------------------------------------


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The documented recipe: sha256= + hex HMAC-SHA256(secret, timestamp + "." + body)."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WebhookCall:
    """One POST the receiver got, and what it answered."""

    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int

    def json(self) -> dict:
        return json.loads(self.body.decode("utf-8"))

    def signed_with(self, secret: str) -> bool:
        signature = self.headers.get("x-sosqueue-signature", "")
        expected = expected_signature(secret, self.headers.get("x-sosqueue-timestamp", ""), self.body)
        return hmac.compare_digest(expected, signature)

    @property
    def delivery(self) -> str:
        return self.headers["x-sosqueue-delivery"]


@dataclass
class _Plan:
    failures_left: int = 0
    failure_status: int = 500
    failing_event: str | None = None  # only calls of this event fail; None: any call
    redirect_to: str | None = None
    calls: list[WebhookCall] = field(default_factory=list)


class WebhookReceiver:
    """A threaded HTTP server that takes webhook calls on a loopback port.

    It answers 204 to a call signed with ``secret`` and 401 to any other; ``fail_next`` makes
    it answer the next calls (of one event, if given) with an error first, ``redirect`` answers
    every call with a 302.
    """

    def __init__(self, secret: str, *, port: int | None = None):
        self.secret = secret
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/sosqueue"
        self._plan = _Plan()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def fail_next(self, count: int, status: int = 500, *, event: str | None = None) -> None:
        with self._lock:
            self._plan.failures_left, self._plan.failure_status, self._plan.failing_event = count, status, event

    def redirect(self, location: str) -> None:
        with self._lock:
            self._plan.redirect_to = location

    @property
    def calls(self) -> list[WebhookCall]:
        with self._lock:
            return list(self._plan.calls)

    @property
    def accepted(self) -> list[WebhookCall]:
        return [call for call in self.calls if call.answered == 204]

    def wait_for_accepted(self, count: int = 1) -> list[WebhookCall]:
        return eventually(lambda: len(self.accepted) >= count and self.accepted, what=f"{count} accepted webhook call(s)")

    def _answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        with self._lock:
            plan = self._plan
            if plan.redirect_to:
                status, extra = 302, {"Location": plan.redirect_to}
            elif plan.failures_left > 0 and plan.failing_event in (None, headers.get("x-sosqueue-event")):
                plan.failures_left -= 1
                status, extra = plan.failure_status, {}
            else:
                call = WebhookCall(headers, body, 0)
                status, extra = (204 if call.signed_with(self.secret) else 401), {}
            plan.calls.append(WebhookCall(headers, body, status))
            return status, extra

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, extra = receiver._answer(headers, body)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *_):
        self.stop()
