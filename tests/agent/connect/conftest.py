"""Fixtures of the Connect tests: an X screen of their own, Tk on it, a loopback relay."""

import gc
import shutil
import ssl
import tkinter as tk

import pytest

from agent import i18n
from tests.agent.connect.support import CaptureCounter, LocalRelay, Painter
from tests.support.certificates import self_signed
from tests.support.xserver import start_xvfb, stop


@pytest.fixture(scope="session")
def screen():
    """A real X server (Xvfb, 1280×800) whose screen these tests capture; its DISPLAY name."""
    if not (shutil.which("Xvfb") and shutil.which("xdpyinfo")):
        pytest.skip("needs Xvfb and x11-utils (scripts/setup installs them)")
    process, name = start_xvfb()
    yield name
    stop(process)


@pytest.fixture
def root(screen, monkeypatch):
    """A Tk root on the test screen (DISPLAY points there, so the capture reads it too)."""
    monkeypatch.setenv("DISPLAY", screen)
    monkeypatch.delenv("SOSQUEUE_CAPTURE", raising=False)
    i18n.use_language("en")
    window = tk.Tk()
    window.withdraw()
    yield window
    i18n.use_language("en")
    try:
        window.destroy()
    except tk.TclError:
        pass
    # Free what still points at this Tk here, in the main thread: Tcl aborts the process when
    # a Tk interpreter is freed by a garbage collection that happens to run in another thread.
    gc.collect()


@pytest.fixture
def painter(root):
    """The whole screen as a canvas the test paints on."""
    painter = Painter(root)
    yield painter
    painter.destroy()


@pytest.fixture
def relay():
    """A loopback WebSocket server playing the queue's side; it acks every frame."""
    with LocalRelay() as server:
        yield server


@pytest.fixture
def captures():
    """Counts how often the real screen capture is opened and grabbed."""
    return CaptureCounter()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert.pem, key.pem)."""
    return self_signed(tmp_path_factory.mktemp("tls"), common_name="sosqueue connect test CA", alt_name="IP:127.0.0.1")


@pytest.fixture
def tls_relay(certificate):
    """The loopback relay behind TLS with the private certificate (wss://)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with LocalRelay(tls=context) as server:
        yield server
