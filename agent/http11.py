"""HTTP/1.1 messages on a connected socket: a request out, its answer in (RFC 9112).

What :mod:`agent.transport` used of :mod:`http.client`, and no more: http.client parses header
fields with the :mod:`email` package, and that package with what it imports is 1.6 MB of an idle
agent's memory (http.client also imports :mod:`ssl` for an ``http://`` queue). The answer's body
is framed as http.client frames it: ``chunked``, else ``Content-Length``, else until the server
closes; no body for ``HEAD``, 1xx, 204 and 304. Errors carry http.client's names, which the
agent's messages show as the reason a call failed.
"""

import socket

MAX_LINE = 65536  # http.client's limits
MAX_HEADERS = 100
_BREAKS = frozenset("\r\n\0")
#: What a request target may not hold (http.client refuses the same): controls, space, DEL.
_NOT_IN_TARGET = frozenset(map(chr, [*range(0x21), 0x7F]))
#: Methods whose request carries a body: without one they send ``Content-Length: 0`` (as http.client).
BODY_METHODS = frozenset({"PATCH", "POST", "PUT"})


class HTTPException(Exception):
    """The answer is not HTTP/1.1 as it should be."""


class BadStatusLine(HTTPException):
    pass


class LineTooLong(HTTPException):
    pass


class IncompleteRead(HTTPException):
    """The connection ended inside the body."""

    def __init__(self, missing: int | None = None):
        super().__init__(f"{missing} more bytes expected" if missing else "the body ended early")
        self.missing = missing


class RemoteDisconnected(ConnectionResetError, BadStatusLine):
    """The server closed the connection without answering."""


class Headers:
    """An answer's header fields: :meth:`get` by name in any case (repeated fields joined with ``, ``)."""

    def __init__(self, fields: list[tuple[str, str]]):
        self._fields: dict[str, str] = {}
        for name, value in fields:
            key = name.lower()
            self._fields[key] = f"{self._fields[key]}, {value}" if key in self._fields else value

    def get(self, name: str, default=None):
        return self._fields.get(name.lower(), default)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._fields


class Connection:
    """One connection to a server (or through a proxy's tunnel), ``sock`` set up by the caller."""

    def __init__(self, sock: socket.socket):
        self.sock: socket.socket | None = sock
        self._file = sock.makefile("rb")

    def request(self, method: str, target: str, *, body: bytes | None, headers: dict) -> None:
        """Send the request; a line break in the target or a header would start another field, or another
        request, and is refused with ``ValueError`` (as http.client refuses it)."""
        if _NOT_IN_TARGET.intersection(target):
            raise ValueError("a line break, space or control character in the request's target")
        lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
        if any(_BREAKS.intersection(line) for line in lines):
            raise ValueError("a line break in a header field")
        if body is not None or method in BODY_METHODS:
            lines.append(f"Content-Length: {len(body or b'')}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def getresponse(self, method: str) -> "Answer":
        return Answer(self._file, method)

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self._file.close()
        if sock is not None:
            sock.close()


class Answer:
    """The answer to one request: status, reason and headers read; the body read through :meth:`read1`
    and :meth:`readline`. ``length`` is how much of a ``Content-Length`` body is left (``None``
    otherwise); :meth:`isclosed` says the whole body was read; ``will_close`` that the connection
    cannot carry another request."""

    def __init__(self, file, method: str):
        self._file = file
        while True:  # interim answers (100 Continue) come before the real one
            version, self.status, self.reason = _status_line(file)
            self.headers = Headers(_header_fields(file))
            if not 100 <= self.status < 200 or self.status == 101:
                break
        connection = (self.headers.get("Connection") or "").lower()
        self.will_close = "close" in connection if version == "HTTP/1.1" else "keep-alive" not in connection
        self.chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        self.length = None if self.chunked else _content_length(self.headers)
        self._chunk_left: int | None = None
        if method == "HEAD" or self.status in (204, 304) or self.status < 200:
            self.length = 0
        if not self.chunked and self.length is None:
            self.will_close = True  # the body runs until the server closes
        if self.length == 0:
            self._file = None

    def isclosed(self) -> bool:
        return self._file is None

    def close(self) -> None:
        """Done with the answer (the connection stays with its :class:`Connection`)."""
        self._file = None

    def read1(self, size: int) -> bytes:
        """At most ``size`` bytes of the body (at least one unless it is over)."""
        if self._file is None or size == 0:
            return b""
        if self.chunked:
            left = self._chunk()
            if left is None:
                return b""
            data = self._file.read1(min(size, left))
            if not data:
                raise IncompleteRead(left)
            self._chunk_left -= len(data)
            return data
        if self.length is not None:
            size = min(size, self.length)
        data = self._file.read1(size)
        self._took(data, size)
        return data

    def readline(self) -> bytes:
        """The body's next line, with its line end (the last one may have none)."""
        if self._file is None:
            return b""
        if not self.chunked:
            limit = MAX_LINE + 1 if self.length is None else min(self.length, MAX_LINE + 1)
            data = self._file.readline(limit)
            if len(data) > MAX_LINE:
                raise LineTooLong("a line of the body")
            self._took(data, limit)
            return data
        line = b""
        while not line.endswith(b"\n"):
            left = self._chunk()
            if left is None:
                break
            part = self._file.readline(left)
            if not part:
                raise IncompleteRead(left)
            self._chunk_left -= len(part)
            line += part
            if len(line) > MAX_LINE:
                raise LineTooLong("a line of the body")
        return line

    def _took(self, data: bytes, wanted: int) -> None:
        if not data and wanted:
            self._file = None  # the server closed: a Content-Length body with ``length`` left is cut short
        elif self.length is not None:
            self.length -= len(data)
            if not self.length:
                self._file = None

    def _chunk(self) -> int | None:
        """What is left of the current chunk, after reading the next chunk's size if need be;
        ``None`` once the last chunk and the trailer are read."""
        if self._chunk_left:
            return self._chunk_left
        if self._chunk_left == 0:
            _line(self._file)  # the CRLF that ends a chunk's data
        size = _line(self._file).split(b";", 1)[0].strip()
        try:
            self._chunk_left = int(size, 16)
        except ValueError:
            raise IncompleteRead() from None
        if self._chunk_left < 0:
            raise IncompleteRead()
        if self._chunk_left == 0:
            _header_fields(self._file)  # the trailer
            self._file = None
            return None
        return self._chunk_left


def _line(file) -> bytes:
    line = file.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise LineTooLong("header line")
    return line


def _status_line(file) -> tuple[str, int, str]:
    line = _line(file)
    if not line:
        raise RemoteDisconnected("the server closed the connection without answering")
    version, _, rest = line.decode("iso-8859-1").rstrip("\r\n").partition(" ")
    status, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(status) != 3 or not status.isdigit():
        raise BadStatusLine(line)
    return version, int(status), reason.strip()


def _header_fields(file) -> list[tuple[str, str]]:
    fields = []
    while (line := _line(file)) not in (b"\r\n", b"\n", b""):
        if len(fields) >= MAX_HEADERS:
            raise HTTPException(f"more than {MAX_HEADERS} header fields")
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and fields:  # an obsolete folded line continues the field before
            fields[-1] = (fields[-1][0], f"{fields[-1][1]} {text.strip()}")
            continue
        name, _, value = text.partition(":")
        fields.append((name.strip(), value.strip()))
    return fields


def _content_length(headers: Headers) -> int | None:
    value = headers.get("Content-Length")
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None
