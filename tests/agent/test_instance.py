"""One agent per module: the first start holds a lock and listens; later starts hand over and exit."""

import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent import instance
from agent.instance import InstanceError, SingleInstance, is_valid_message

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def directory(tmp_path) -> Path:
    return tmp_path / "run"


@pytest.fixture
def running(directory):
    """The first instance of module 'm-1', listening; released after the test."""
    first = SingleInstance("m-1", directory=directory)
    assert first.acquire()
    received: queue.SimpleQueue[str] = queue.SimpleQueue()
    first.listen(received.put)
    first.received = received
    yield first
    first.release()


def test_a_second_start_is_not_the_running_instance(running, directory):
    """While one instance holds the lock, another start of the same module does not get it."""
    assert not SingleInstance("m-1", directory=directory).acquire()


def test_other_modules_run_side_by_side(running, directory):
    """Two different support modules each get their own instance."""
    other = SingleInstance("m-2", directory=directory)
    try:
        assert other.acquire()
    finally:
        other.release()


@pytest.mark.parametrize("message", ["sos", "open", "tray", "code:s12-345-678"])
def test_a_later_start_hands_its_wish_to_the_running_instance(running, directory, message):
    """send() delivers the later start's mode (or code) to the running instance's callback."""
    SingleInstance("m-1", directory=directory).send(message)
    assert running.received.get(timeout=10) == message


def test_after_release_the_next_start_becomes_the_running_instance(directory):
    """Quitting gives up the lock and removes the endpoint."""
    first = SingleInstance("m-1", directory=directory)
    assert first.acquire()
    first.listen(lambda message: None)
    endpoint = first.endpoint_path
    assert endpoint.exists()
    first.release()
    assert not endpoint.exists()
    second = SingleInstance("m-1", directory=directory)
    try:
        assert second.acquire()
    finally:
        second.release()


def test_unknown_messages_are_refused_by_the_sender_and_ignored_by_the_listener(running, directory):
    """Only open, sos, tray and code:… travel; anything else written to the socket is dropped."""
    with pytest.raises(ValueError):
        SingleInstance("m-1", directory=directory).send("rm -rf /")
    if instance.HAS_UNIX_SOCKETS:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.connect(str(running.endpoint_path))
            raw.sendall(b"format-disk\n")
            assert raw.recv(10) == b""  # hung up without "ok"
    SingleInstance("m-1", directory=directory).send("sos")
    assert running.received.get(timeout=10) == "sos"
    assert running.received.empty()


def test_sending_without_a_running_instance_fails_plainly(directory):
    """A lock without a listener (a hung agent) ends in InstanceError after the timeout."""
    holder = SingleInstance("m-1", directory=directory)
    assert holder.acquire()
    try:
        with pytest.raises(InstanceError):
            SingleInstance("m-1", directory=directory).send("sos", timeout=0.5)
    finally:
        holder.release()


def test_a_killed_instance_leaves_nothing_that_blocks_the_next_start(directory):
    """After SIGKILL the lock is gone and the stale socket is replaced by the next instance."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from agent.instance import SingleInstance
        guard = SingleInstance("m-1", directory=Path({str(directory)!r}))
        assert guard.acquire()
        guard.listen(lambda message: None)
        sys.stdout.write("ready\\n")
        sys.stdout.flush()
        time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        assert not SingleInstance("m-1", directory=directory).acquire()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    successor = SingleInstance("m-1", directory=directory)
    try:
        assert successor.acquire()
        received: queue.SimpleQueue[str] = queue.SimpleQueue()
        successor.listen(received.put)
        SingleInstance("m-1", directory=directory).send("open")
        assert received.get(timeout=10) == "open"
    finally:
        successor.release()


def test_a_start_during_startup_waits_for_the_listener(directory):
    """A second start that comes before the first one listens is answered once it does."""
    first = SingleInstance("m-1", directory=directory)
    assert first.acquire()
    received: queue.SimpleQueue[str] = queue.SimpleQueue()
    try:
        import threading

        sender = threading.Thread(target=SingleInstance("m-1", directory=directory).send, args=("sos",), daemon=True)
        sender.start()
        first.listen(received.put)
        assert received.get(timeout=10) == "sos"
        sender.join(10)
        assert not sender.is_alive()
    finally:
        first.release()


@pytest.mark.skipif(not instance.HAS_UNIX_SOCKETS, reason="Unix domain sockets only")
def test_the_runtime_directory_and_socket_are_private(running, directory):
    """Only the user can reach the socket: the directory is 0700."""
    assert directory.stat().st_mode & 0o777 == 0o700
    assert running.endpoint_path.is_socket()


@pytest.mark.skipif(not instance.HAS_UNIX_SOCKETS, reason="Unix domain sockets only")
def test_a_very_deep_runtime_directory_falls_back_to_a_short_socket_path(tmp_path):
    """sun_path holds about 100 bytes; deeper homes get a private socket in the temp directory."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    first = SingleInstance("m-deep", directory=deep)
    assert first.acquire()
    received: queue.SimpleQueue[str] = queue.SimpleQueue()
    try:
        first.listen(received.put)
        SingleInstance("m-deep", directory=deep).send("tray")
        assert received.get(timeout=10) == "tray"
        assert len(os.fsencode(first._socket_path())) <= instance.UNIX_PATH_LIMIT
    finally:
        first.release()


def test_the_windows_endpoint_is_a_loopback_port_with_a_secret(monkeypatch, directory):
    """Without Unix sockets: 127.0.0.1, the port and a secret in a private file; no secret, no message."""
    monkeypatch.setattr(instance, "HAS_UNIX_SOCKETS", False)
    first = SingleInstance("m-win", directory=directory)
    assert first.acquire()
    received: queue.SimpleQueue[str] = queue.SimpleQueue()
    try:
        first.listen(received.put)
        port, secret = first.endpoint_path.read_text().split()
        assert first.endpoint_path.name.endswith(".port") and len(secret) == 32
        if os.name == "posix":
            assert first.endpoint_path.stat().st_mode & 0o777 == 0o600
        with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as raw:
            raw.sendall(b"wrong-secret sos\n")
            assert raw.recv(10) == b""
        SingleInstance("m-win", directory=directory).send("code:s12-345-678")
        assert received.get(timeout=10) == "code:s12-345-678"
        assert received.empty()
    finally:
        first.release()
    assert not first.endpoint_path.exists()


@pytest.mark.parametrize(("message", "valid"), [
    ("open", True), ("sos", True), ("tray", True), ("code:s12-345-678", True),
    ("code:", False), ("quit", False), ("", False), ("code:" + "1" * 60, False),
])
def test_valid_messages(message, valid):
    """The protocol's whole vocabulary."""
    assert is_valid_message(message) is valid


def test_listen_needs_the_lock_first(directory):
    """Listening without holding the lock would let two instances run."""
    with pytest.raises(RuntimeError):
        SingleInstance("m-1", directory=directory).listen(lambda message: None)


def test_several_later_starts_are_all_heard_in_order(running, directory):
    """Quick clicks on the SOS shortcut each reach the running instance, in order."""
    for message in ("sos", "open", "tray"):
        SingleInstance("m-1", directory=directory).send(message)
    heard = [running.received.get(timeout=10) for _ in range(3)]
    assert heard == ["sos", "open", "tray"]


@pytest.mark.skipif(os.name != "posix", reason="file permissions are POSIX")
def test_an_unusable_runtime_directory_falls_back_to_a_private_temp_directory(tmp_path):
    """No /run/user/<uid> (outside a desktop session): the guard still works, in the temp directory."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    first = SingleInstance("m-fallback", directory=blocked / "run")
    assert first.acquire()
    received: queue.SimpleQueue[str] = queue.SimpleQueue()
    try:
        first.listen(received.put)
        assert first.directory != blocked / "run"
        assert first.directory.stat().st_mode & 0o777 == 0o700
        later = SingleInstance("m-fallback", directory=blocked / "run")
        assert not later.acquire()
        later.send("sos")
        assert received.get(timeout=10) == "sos"
    finally:
        first.release()
