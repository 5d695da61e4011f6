"""Connect across several server processes: the shipped nginx configuration sends both sockets
of a session to one process, so sessions work whichever process each socket would have hit."""

import os
import re
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.server.connect.peers import Expert, Sockets, jpeg, receive, receive_frame, send
from tests.support.dashboard import PASSWORD, logged_in
from tests.support.servers import free_port, processes_on_one_database
from tests.support.tenants import make_tenant
from tests.support.tools import require_tool

pytestmark = pytest.mark.postgres

SHIPPED = Path(__file__).resolve().parents[3] / "build_scripts" / "nginx" / "sosqueue.conf"
SESSIONS = 12


def shipped_config(ports: list[int], listen: int) -> str:
    """The shipped configuration with these processes in both upstreams, listening on ``listen``."""
    text = SHIPPED.read_text()
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    text, upstreams = re.subn(r"(upstream [a-z_]+ \{\n(?:    hash [^\n]*\n)?)(?:    server [^\n]*\n)+", rf"\g<1>{servers}", text)
    assert upstreams == 2, "the shipped configuration has two upstreams listing the processes"
    return text.replace("listen 80;", f"listen 127.0.0.1:{listen};")


class Nginx:
    """nginx in the foreground with the shipped configuration; it logs which process took each socket."""

    def __init__(self, folder: Path, ports: list[int]):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = folder / "access.log"
        (folder / "sosqueue.conf").write_text(shipped_config(ports, self.port))
        user = "user root;\n" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"{user}worker_processes 1;\nerror_log {folder}/error.log warn;\npid {folder}/nginx.pid;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            "    log_format upstream '$uri $upstream_addr $status';\n"
            f"    access_log {self.access_log} upstream;\n"
            f"    client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;\n"
            f"    fastcgi_temp_path {folder}/fastcgi; uwsgi_temp_path {folder}/uwsgi; scgi_temp_path {folder}/scgi;\n"
            f"    include {folder}/sosqueue.conf;\n"
            "}\n")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Nginx":
        executable = require_tool("nginx", "nginx-light")
        checked = subprocess.run([executable, "-t", "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen([executable, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
                                         "-g", "daemon off;"], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not come up: {(self.folder / 'error.log').read_text()}")

    def __exit__(self, *_) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)

    def upstreams_of_sessions(self) -> dict[str, set[str]]:
        """For each session code, the processes its sockets reached."""
        taken = defaultdict(set)
        for line in self.access_log.read_text().splitlines():
            path, upstream, _status = line.split(" ")
            found = re.search(r"/(s\d\d-\d\d\d-\d\d\d|s\d{8})/session", path)
            if found:
                taken[found.group(1).replace("-", "")].add(upstream)
        return taken


@pytest.fixture(scope="module")
def processes(postgres, tmp_path_factory):
    """Two server processes on one PostgreSQL database."""
    with processes_on_one_database(postgres, tmp_path_factory.mktemp("logs")) as servers:
        yield servers


def test_sessions_work_through_the_shipped_nginx_configuration_across_two_processes(processes, tmp_path):
    """Customer and expert reach each other through nginx for every session, each session's sockets
    meet in one process, and the sessions are spread over both processes."""
    tenant = make_tenant(processes[0].database_url, password=PASSWORD)
    with Nginx(tmp_path, [server.port for server in processes]) as nginx:
        client = logged_in(nginx.url, tenant.supporter_email)
        expert = Expert(client, tenant.user_ids[tenant.supporter_email], tenant.supporter_email.partition("@")[0])
        sockets = Sockets(nginx.url, tenant)
        try:
            for index in range(SESSIONS):
                filed = sockets.file(description=f"session {index}")
                customer, (viewer,) = sockets.sharing(filed, expert)
                frame = jpeg(noise=index + 1)
                customer.send(frame)
                assert receive_frame(viewer) == frame
                send(viewer, {"type": "chat", "text": f"hello {index}"})
                assert receive(customer)["text"] == f"hello {index}"
                sockets.close_all()
        finally:
            sockets.close_all()
            client.close()
        time.sleep(0.2)  # nginx writes a socket's log line when it closes
        taken = nginx.upstreams_of_sessions()
    assert len(taken) == SESSIONS
    assert all(len(upstreams) == 1 for upstreams in taken.values()), taken
    assert len(set().union(*taken.values())) == 2, "the sessions are spread over both processes"
