"""A TCP listener on loopback that serves each connection in a thread of its own: the base of the
tests' small hand-written servers and proxies, which implement :meth:`LoopbackListener._serve`."""

import socket
import threading


class LoopbackListener:
    """Listens on 127.0.0.1 (``port`` 0: any free one) while in its ``with`` block."""

    def __init__(self, port: int = 0):
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        self.connections = 0  # accepted so far

    def __enter__(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_):
        self._listener.close()

    def _accept(self):
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._accepted(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _accepted(self, connection: socket.socket) -> None:
        """Called in the accepting thread for each connection, before it is served."""

    def _serve(self, connection: socket.socket) -> None:
        raise NotImplementedError(f"{type(self).__name__} serves no connection")
