"""A real X server for desktop tests: Xvfb on a display number it picks itself."""

import os
import select
import subprocess
import time

from tests.support.polling import eventually

SCREEN = "1280x800x24"
PATIENCE = 60.0


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a display number it picks itself (``-displayfd``), once it accepts clients."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        number = read_line(read_end)
    finally:
        os.close(read_end)  # only after the whole line: Xvfb dies of SIGPIPE if it cannot finish writing
    if not number:
        process.kill()
        raise RuntimeError("Xvfb did not start")
    name = f":{number}"
    eventually(lambda: _answers(name) or process.poll() is not None, timeout=PATIENCE, what=f"Xvfb on {name}")
    if process.poll() is not None:
        raise RuntimeError(f"Xvfb on {name} exited with {process.returncode}")
    return process, name


def read_line(descriptor: int) -> str:
    data = b""
    deadline = time.monotonic() + PATIENCE
    while not data.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([descriptor], [], [], 1)
        if ready:
            chunk = os.read(descriptor, 64)
            if not chunk:
                break
            data += chunk
    return data.decode().strip()


def _answers(display: str) -> bool:
    probe = subprocess.run(["xdpyinfo", "-display", display], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return probe.returncode == 0


def stop(process: subprocess.Popen) -> None:
    """Terminate a process, killing it if it does not end in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
