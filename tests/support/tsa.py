"""A local RFC 3161 time-stamp authority for signing tests: ``openssl ts -reply`` behind a tiny
HTTP server on 127.0.0.1 that answers ``application/timestamp-query`` POSTs.

``with TimeStampAuthority(folder) as tsa: … tsa.url …``; ``tsa.ca`` is the PEM of its root (to
verify the timestamp with ``osslsigncode verify -TSA-CAfile``), ``tsa.requests`` counts the
queries it answered.
"""

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.tools import require_tool

_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {folder}
serial = $dir/serial
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _openssl(*args, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def make_tsa_files(folder: Path) -> Path:
    """A root CA and a time-stamping certificate it issued, and the ``openssl ts`` config."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sosqueue test TSA root",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=sosqueue test TSA", "-keyout", "tsa.key",
             "-out", "tsa.csr", cwd=folder)
    (folder / "tsa.ext").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=critical,timeStamping\n"
                                    "keyUsage=critical,digitalSignature\n")
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", "tsa.ext", "-out", "tsa.pem", cwd=folder)
    (folder / "serial").write_text("01\n")
    config = folder / "tsa.cnf"
    config.write_text(_CONFIG.format(folder=folder))
    return config


class TimeStampAuthority:
    """The local TSA: started on entering, stopped on leaving."""

    def __init__(self, folder: Path):
        require_tool("openssl", "openssl")
        self.folder = folder
        self.config = make_tsa_files(folder)
        self.ca = folder / "ca.pem"
        self.requests = 0
        self._lock = threading.Lock()
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                query = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415, "expected application/timestamp-query")
                    return
                reply = authority.reply(query)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/tsa"

    def reply(self, query: bytes) -> bytes:
        """``openssl ts -reply`` for one DER query (one at a time: openssl keeps a serial file)."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            query_file, reply_file = Path(scratch) / "query.tsq", Path(scratch) / "reply.tsr"
            query_file.write_bytes(query)
            subprocess.run(["openssl", "ts", "-reply", "-config", self.config, "-queryfile", query_file,
                            "-out", reply_file], check=True, capture_output=True)
            self.requests += 1
            return reply_file.read_bytes()

    def __enter__(self) -> "TimeStampAuthority":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
