"""A TLS-terminating relay on loopback: ``https://127.0.0.1:PORT`` in front of a plain-HTTP queue server.

What a reverse proxy with a certificate does, reduced to bytes: each accepted connection is
wrapped in TLS and its bytes are carried both ways to the upstream port unchanged, so keep-alive,
event streams and WebSocket upgrades pass as they do through nginx.
"""

import socket
import ssl
import threading
from pathlib import Path


class TlsRelay:
    """Carries TLS connections on a free loopback port to ``upstream_port`` (plain TCP)."""

    def __init__(self, upstream_port: int, certificate: Path, key: Path):
        self.upstream_port = upstream_port
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(certificate, key)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> "TlsRelay":
        threading.Thread(target=self._accept, name="tls-relay", daemon=True).start()
        return self

    def __exit__(self, *_) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(connection,), daemon=True).start()

    def _relay(self, connection: socket.socket) -> None:
        try:
            secured = self._context.wrap_socket(connection, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except (OSError, ssl.SSLError):
            connection.close()
            return
        threading.Thread(target=_carry, args=(upstream, secured), daemon=True).start()
        _carry(secured, upstream)


def _carry(source: socket.socket, target: socket.socket) -> None:
    """Bytes from ``source`` to ``target`` until either side ends; then both are closed."""
    try:
        while data := source.recv(64 * 1024):
            target.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for end in (source, target):
            try:
                end.close()
            except OSError:
                pass
