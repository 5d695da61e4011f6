"""From a click on the SOS shortcut to the session code on screen, and the idle tray's memory.

    python benchmarks/agent_sos.py [--runs 20] [--module-binary PATH]

Starts a real queue server on loopback and a real X server (Xvfb, with ``trayer`` as tray
host), then, ``--runs`` times, starts the agent with ``--sos`` for a module that files at once
and waits until its window shows the session code (read from the window's state report).
Targets: p95 ≤ 1.0 s; resident memory while idle in the tray ≤ 40 MB. Baselines measured in
the same run: starting the same interpreter or binary and opening and closing an empty Tk
window (for the time), and an idle empty Tk window (for memory).

Without ``--module-binary`` the agent runs from source (``python -m agent``); with a stamped
module (``sosqueue build``) it runs the real executable. A stamped module built by
``sosqueue quickstart`` or ``sosqueue build`` works as is.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, emit, latency_ms, machine, percentile, ratio, start_server, table, verdict

import psutil  # noqa: E402

from tests.support.xserver import start_xvfb, stop  # noqa: E402
from tests.support.modules import write_module_file  # noqa: E402
from tests.support.tenants import make_tenant  # noqa: E402

TK_BASELINE = "import tkinter; root = tkinter.Tk(); root.update(); root.destroy()"
TK_IDLE = "import tkinter; root = tkinter.Tk(); root.after({ms}, root.destroy); root.mainloop()"
PATIENCE = 30.0


def agent_command(module: Path, binary: Path | None) -> list[str]:
    return [str(binary)] if binary else [sys.executable, "-m", "agent", "--module", str(module)]


def environment(home: Path, display: str, tray: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("XDG_", "SOSQUEUE_"))}
    env.update(HOME=str(home / "user"), SOSQUEUE_AGENT_HOME=str(home), DISPLAY=display,
               SOSQUEUE_AGENT_TEST_HOOKS=str(home / "state.json"), SOSQUEUE_TRAY=tray,
               SOSQUEUE_PLATFORM="dummy", LANG="C.UTF-8")
    return env


def time_until_code(command: list[str], home: Path, display: str) -> float:
    """Seconds from starting ``command --sos`` until the window reports a session code."""
    state = home / "state.json"
    started = time.perf_counter()
    process = subprocess.Popen([*command, "--sos"], env=environment(home, display, "dummy"), cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < PATIENCE:
            try:
                if json.loads(state.read_text()).get("code"):
                    return time.perf_counter() - started
            except (OSError, ValueError):
                pass
            if process.poll() is not None:
                raise RuntimeError(f"the agent exited with {process.returncode} before showing a code")
            time.sleep(0.005)
        raise RuntimeError("no session code within 30 s")
    finally:
        stop(process)


def time_baseline(command: list[str], display: str) -> float:
    started = time.perf_counter()
    subprocess.run(command, env={**os.environ, "DISPLAY": display}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def tree_rss(process: subprocess.Popen) -> int:
    """Resident memory of a process and its children (a onefile binary runs as two processes)."""
    parent = psutil.Process(process.pid)
    return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])


def idle_tray_rss(command: list[str], home: Path, display: str, settle: float) -> int:
    process = subprocess.Popen([*command, "--tray"], env=environment(home, display, os.environ.get("SOSQUEUE_TRAY", "")),
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle)
        if process.poll() is not None:
            raise RuntimeError(f"the agent left the tray with {process.returncode}")
        return tree_rss(process)
    finally:
        stop(process)


def idle_tk_rss(display: str, settle: float) -> int:
    code = TK_IDLE.format(ms=int((settle + 5) * 1000))
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "DISPLAY": display})
    try:
        time.sleep(settle)
        return tree_rss(process)
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--module-binary", type=Path, help="a stamped module to run instead of the source agent")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds in the tray before measuring memory")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="sosqueue-bench-agent-"))
    xvfb, display = start_xvfb()
    trayer = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32"],
                              env={**os.environ, "DISPLAY": display}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    try:
        database = f"sqlite:///{scratch / 'queue.db'}"
        server = start_server(database)
        tenant = make_tenant(database)
        module = write_module_file(scratch / "module.bin", server_url=server.url, module_id=tenant.module_id,
                                   module_token=tenant.module_token, file_immediately=True)
        if args.module_binary:
            stamped = scratch / args.module_binary.name
            _restamp(args.module_binary, module, stamped)
            command = [str(stamped)]
            baseline_command = [str(stamped), "--version"]
        else:
            command = agent_command(module, None)
            baseline_command = [sys.executable, "-c", TK_BASELINE]
        sos, baseline = [], []
        for index in range(args.runs):  # interleaved: both see the same machine load
            baseline.append(time_baseline(baseline_command, display))
            sos.append(time_until_code(command, scratch / f"home-{index}", display))
        agent_rss = idle_tray_rss(command, scratch / "home-tray", display, args.settle)
        tk_rss = idle_tk_rss(display, args.settle)
    finally:
        if server:
            server.stop()
        stop(trayer)
        stop(xvfb)
        shutil.rmtree(scratch, ignore_errors=True)
    p95 = percentile(sos, 95)
    mb = 1024 * 1024
    result = {
        "machine": machine(),
        "agent": "stamped binary" if args.module_binary else "source (python -m agent)",
        "sos_to_code_ms": latency_ms(sos),
        "baseline_ms": {"what": " ".join(baseline_command[-2:]), **latency_ms(baseline)},
        "sos_to_code_ratio_p50": ratio(percentile(sos, 50), percentile(baseline, 50)),
        "sos_target": {"p95_s": 1.0, "met": p95 <= 1.0},
        "idle_tray_rss_mb": round(agent_rss / mb, 1),
        "idle_tk_rss_mb": round(tk_rss / mb, 1),
        "rss_ratio": ratio(agent_rss, tk_rss),
        "rss_target": {"mb": 40, "met": agent_rss <= 40 * mb},
    }
    table([
        ("measure", "p50", "p95", "baseline p50", "ratio", "target"),
        ("--sos to code", f"{1000 * percentile(sos, 50):.0f} ms", f"{1000 * p95:.0f} ms",
         f"{1000 * percentile(baseline, 50):.0f} ms", result["sos_to_code_ratio_p50"],
         f"p95 ≤ 1.0 s {verdict(result['sos_target']['met'])}"),
        ("idle in tray (RSS)", f"{agent_rss / mb:.1f} MB", "", f"{tk_rss / mb:.1f} MB (empty Tk)", result["rss_ratio"],
         f"≤ 40 MB {verdict(result['rss_target']['met'])}"),
    ])
    emit("agent_sos", result)


def _restamp(binary: Path, module_file: Path, target: Path) -> None:
    """The stamped binary's base with this run's module payload (pointing at this run's server)."""
    from sosqueue import payload

    carried = payload.read(module_file)
    size = binary.stat().st_size
    with open(binary, "rb") as handle:
        handle.seek(size - payload.TRAILER.size)
        length = payload.TRAILER.unpack(handle.read(payload.TRAILER.size))[0]
    base = target.with_suffix(".base")
    with open(binary, "rb") as source, open(base, "wb") as out:
        out.write(source.read(size - payload.TRAILER.size - length))
    payload.stamp(base, carried, target)
    base.unlink()


if __name__ == "__main__":
    sys.exit(main())
