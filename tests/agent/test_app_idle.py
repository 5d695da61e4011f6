"""The agent idle in the tray keeps out of memory what only filing, sharing or a log roll-over needs.

The real agent from source in a subprocess, on Xvfb with a tray host (trayer), against a real queue
server over HTTP and through a TLS relay, with the queue's update key (so it asks for its brand at
start, as a built module does). Once its tray icon runs, it writes down the modules it has loaded.
"""

import dataclasses
import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.agent.tray import desktop, shared_desktop  # noqa: F401
from tests.support.certificates import self_signed
from tests.support.modules import module_config, module_payload_for
from tests.support.polling import eventually
from tests.support.tls_relay import TlsRelay
from tests.support.xserver import stop

#: Modules the idle agent used to load and no longer needs until the feature that uses them runs
#: (:mod:`platform` stays: python-xlib imports it to connect).
NOT_AT_IDLE = ("urllib.request", "logging.handlers", "pickle", "uuid", "http.client", "email", "certifi",
               "importlib.resources", "encodings.idna", "Xlib.ext.xtest", "Xlib.ext.randr", "Xlib.ext.damage",
               "Xlib.ext.xinput", "datetime")
#: What only an https:// queue needs.
TLS = ("ssl", "_ssl")

#: Runs the agent; once its tray icon's thread has run for a while, writes ``sys.modules`` to PROBE_OUT.
PROBE = r"""
import json, os, sys, threading, time

def note_modules():
    while not any(thread.name == "sosqueue-tray" for thread in threading.enumerate()):
        time.sleep(0.05)
    time.sleep(2)  # the brand check at start is done by then
    with open(os.environ["PROBE_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)

threading.Thread(target=note_modules, daemon=True).start()
sys.argv = ["agent", *sys.argv[1:]]
from agent.cli import main
main()
"""


@pytest.fixture(params=["http", "https"])
def idle_module(request, tmp_path, queue_server, tenant):
    """A module with the queue's update key, for the plain server or behind a TLS relay with its own CA;
    and whether it is the latter."""
    answer = httpx.post(f"{queue_server.url}/api/v1/modules/{tenant.module_id}/rotate-token", timeout=20,
                        headers={"Authorization": f"Bearer {tenant.admin_token}"})
    answer.raise_for_status()
    token, update_key = answer.json()["token"], answer.json()["update_key"]
    url, ca_bundle, relay = queue_server.url, None, None
    if request.param == "https":
        certificate, key = self_signed(tmp_path, common_name="idle test CA", alt_name="IP:127.0.0.1")
        relay = TlsRelay(queue_server.port, certificate, key).__enter__()
        url, ca_bundle = relay.url, certificate.read_bytes()
    config = dataclasses.replace(module_config(server_url=url, module_id=tenant.module_id, module_token=token,
                                               ca_bundle=ca_bundle), update_key=update_key)
    path = tmp_path / "module.bin"
    path.write_bytes(module_payload_for(config).to_bytes())
    yield path, request.param == "https"
    if relay is not None:
        relay.__exit__()


def idle_modules(module, home, display) -> set[str]:
    """The modules the agent started with ``--tray`` has loaded once its tray icon runs."""
    out = home / "modules.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SOSQUEUE_", "XDG_"))}
    env.update(DISPLAY=display, HOME=str(home / "user"), SOSQUEUE_AGENT_HOME=str(home), SOSQUEUE_PLATFORM="dummy",
               SOSQUEUE_TRAY="xorg", LANG="C.UTF-8", PROBE_OUT=str(out))  # the icon in trayer's tray
    process = subprocess.Popen([sys.executable, "-c", PROBE, "--module", str(module), "--tray"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        eventually(lambda: out.exists() or process.poll() is not None, timeout=30, what="the idle agent's modules")
        assert process.poll() is None, process.stderr.read().decode()
        eventually(lambda: out.read_text().endswith("]"), timeout=5, what="the whole list")
        return set(json.loads(out.read_text()))
    finally:
        stop(process)


def test_the_idle_tray_loads_nothing_only_filing_or_sharing_needs(desktop, idle_module, tmp_path):  # noqa: F811
    """In the tray, idle: the X icon runs, none of the deferred modules is loaded, and OpenSSL's TLS
    library only for an https:// queue (whose brand was asked for at start)."""
    module, https = idle_module
    modules = idle_modules(module, tmp_path / "home", desktop.display)
    assert "agent.tray._xorg" in modules  # the icon is in trayer's tray
    assert "agent.ui.window" not in modules
    assert sorted(set(NOT_AT_IDLE) & modules) == []
    assert set(TLS) <= modules if https else not set(TLS) & modules
