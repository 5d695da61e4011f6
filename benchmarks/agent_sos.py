"""From a click on the SOS shortcut to the session code on screen, and the idle tray's memory.

    python benchmarks/agent_sos.py [--runs 20] [--module-binary PATH]

Starts a real queue server on loopback and a real X server (Xvfb, with ``trayer`` as tray
host), then, ``--runs`` times, starts the agent with ``--sos`` for a module that files at once
and waits until its window shows the session code (read from the window's state report).
Targets: p95 ≤ 1.0 s; resident memory while idle in the tray ≤ 40 MB. Baselines measured in
the same run: starting the same interpreter or binary and opening and closing an empty Tk
window (for the time), and an idle empty Tk window (for memory).

The idle tray is measured three times, with a module that carries the queue's update key (so
it asks the queue for its brand at start, as a built module does): against the plain-HTTP
server, and against the same server behind a TLS relay on loopback (``tests.support.tls_relay``)
with a self-signed certificate, trusted once as a customer's public certificate is (the usual
CAs: the system's and certifi's; the test CA is added through ``SSL_CERT_DIR``) and once through
the module's own CA. ``--sos`` is timed against the plain server and, with the module's own
CA, against the TLS relay.

Without ``--module-binary`` the agent runs from source (``python -m agent``); with a stamped
module (``sosqueue build``) it runs the real executable: a one-file one runs as two processes,
the agent and its launcher (which unpacked it and waits to clean up). The memory counts the
agent's resident memory plus the launcher's own (its USS, ``idle_uss_onefile_launcher_mb``):
the launcher's resident memory (``idle_rss_onefile_launcher_mb``) is mostly pages of the C
library that the agent maps too, and adding it would count those pages twice. A folder
(``--onedir``) module's executable is given with its ``_internal`` folder beside it. A stamped module built by
``sosqueue quickstart`` or ``sosqueue build`` works as is.
"""

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, emit, latency_ms, machine, percentile, ratio, start_server, table, verdict

import httpx  # noqa: E402
import psutil  # noqa: E402

from tests.support.certificates import hashed_folder, self_signed  # noqa: E402
from tests.support.modules import module_config, module_payload_for, write_module_file  # noqa: E402
from tests.support.tenants import make_tenant  # noqa: E402
from tests.support.tls_relay import TlsRelay  # noqa: E402
from tests.support.xserver import start_xvfb, stop  # noqa: E402

TK_BASELINE = "import tkinter; root = tkinter.Tk(); root.update(); root.destroy()"
TK_IDLE = "import tkinter; root = tkinter.Tk(); root.after({ms}, root.destroy); root.mainloop()"
PATIENCE = 30.0


def agent_command(module: Path, binary: Path | None) -> list[str]:
    return [str(binary)] if binary else [sys.executable, "-m", "agent", "--module", str(module)]


def environment(home: Path, display: str, tray: str, extra: dict | None = None) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("XDG_", "SOSQUEUE_", "SSL_CERT_"))}
    env.update(HOME=str(home / "user"), SOSQUEUE_AGENT_HOME=str(home), DISPLAY=display,
               SOSQUEUE_AGENT_TEST_HOOKS=str(home / "state.json"), SOSQUEUE_TRAY=tray,
               SOSQUEUE_PLATFORM="dummy", LANG="C.UTF-8", **(extra or {}))
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


def tree_memory(process: subprocess.Popen) -> tuple[int, int, int]:
    """What a process (a onefile binary's launcher, or the agent itself) and its children hold:
    the agent's resident memory plus its launcher's own pages (USS); and the launcher's RSS and USS
    (0 when ``process`` is the agent)."""
    parent = psutil.Process(process.pid)
    children = parent.children(recursive=True)
    if not children:
        return parent.memory_info().rss, 0, 0
    launcher_uss = parent.memory_full_info().uss
    return (sum(child.memory_info().rss for child in children) + launcher_uss, parent.memory_info().rss,
            launcher_uss)


def idle_tray_rss(command: list[str], home: Path, display: str, settle: float,
                  extra_env: dict | None = None) -> tuple[int, int, int]:
    """The idle tray's memory, and a onefile binary's launcher's RSS and USS (:func:`tree_memory`)."""
    env = environment(home, display, os.environ.get("SOSQUEUE_TRAY", ""), extra_env)
    del env["SOSQUEUE_AGENT_TEST_HOOKS"]  # as customers run it: the state report would build the window
    process = subprocess.Popen([*command, "--tray"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle)
        if process.poll() is not None:
            raise RuntimeError(f"the agent left the tray with {process.returncode}")
        return tree_memory(process)
    finally:
        stop(process)


def idle_tk_rss(display: str, settle: float) -> int:
    code = TK_IDLE.format(ms=int((settle + 5) * 1000))
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "DISPLAY": display})
    try:
        time.sleep(settle)
        return tree_memory(process)[0]
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
    server = relay = None
    try:
        database = f"sqlite:///{scratch / 'queue.db'}"
        server = start_server(database)
        tenant = make_tenant(database)
        certificate, key = self_signed(scratch, common_name="sosqueue bench CA", alt_name="IP:127.0.0.1")
        relay = TlsRelay(server.port, certificate, key).__enter__()
        token, update_key = _register(server, tenant)
        module = write_module_file(scratch / "module.bin", server_url=server.url, module_id=tenant.module_id,
                                   module_token=token, file_immediately=True)
        module_tls = write_module_file(scratch / "module-tls.bin", server_url=relay.url, module_id=tenant.module_id,
                                       module_token=token, file_immediately=True, ca_bundle=certificate.read_bytes())
        tray_modules = _tray_modules(server.url, relay.url, tenant.module_id, token, update_key, certificate, scratch)
        commands = {"http": _command(module, args.module_binary, scratch / "http"),
                    "https": _command(module_tls, args.module_binary, scratch / "https")}
        baseline_command = [*commands["http"], "--version"] if args.module_binary else [sys.executable, "-c", TK_BASELINE]
        sos, sos_https, baseline = [], [], []
        for index in range(args.runs):  # interleaved: all see the same machine load
            baseline.append(time_baseline(baseline_command, display))
            sos.append(time_until_code(commands["http"], scratch / f"home-{index}", display))
            sos_https.append(time_until_code(commands["https"], scratch / f"home-tls-{index}", display))
        idle = {name: idle_tray_rss(_command(tray_module, args.module_binary, scratch / f"tray-{name}"),
                                    scratch / f"home-{name}", display, args.settle, extra_env)
                for name, (tray_module, extra_env) in tray_modules.items()}
        rss = {name: total for name, (total, _rss, _uss) in idle.items()}
        tk_rss = idle_tk_rss(display, args.settle)
    finally:
        if relay:
            relay.__exit__()
        if server:
            server.stop()
        stop(trayer)
        stop(xvfb)
        shutil.rmtree(scratch, ignore_errors=True)
    p95 = percentile(sos, 95)
    mb = 1024 * 1024
    agent_rss = rss["http"]
    result = {
        "machine": machine(),
        "agent": "stamped binary" if args.module_binary else "source (python -m agent)",
        "sos_to_code_ms": latency_ms(sos),
        "sos_to_code_https_ms": latency_ms(sos_https),
        "baseline_ms": {"what": " ".join(baseline_command[-2:]), **latency_ms(baseline)},
        "sos_to_code_ratio_p50": ratio(percentile(sos, 50), percentile(baseline, 50)),
        "sos_to_code_https_ratio_p50": ratio(percentile(sos_https, 50), percentile(baseline, 50)),
        "sos_target": {"p95_s": 1.0, "met": max(p95, percentile(sos_https, 95)) <= 1.0},
        "idle_tray_rss_mb": round(agent_rss / mb, 1),
        "idle_rss_https_mb": round(rss["https"] / mb, 1),
        "idle_rss_https_module_ca_mb": round(rss["https_module_ca"] / mb, 1),
        "idle_tk_rss_mb": round(tk_rss / mb, 1),
        "idle_rss_onefile_launcher_mb": {name: round(launcher / mb, 1) for name, (_total, launcher, _uss) in idle.items()},
        "idle_uss_onefile_launcher_mb": {name: round(uss / mb, 2) for name, (_total, _rss, uss) in idle.items()},
        "rss_ratio": ratio(agent_rss, tk_rss),
        "rss_https_ratio": ratio(rss["https"], tk_rss),
        "rss_target": {"mb": 40, "met": max(rss.values()) <= 40 * mb},
    }
    table([
        ("measure", "p50", "p95", "baseline p50", "ratio", "target"),
        ("--sos to code", f"{1000 * percentile(sos, 50):.0f} ms", f"{1000 * p95:.0f} ms",
         f"{1000 * percentile(baseline, 50):.0f} ms", result["sos_to_code_ratio_p50"],
         f"p95 ≤ 1.0 s {verdict(result['sos_target']['met'])}"),
        ("--sos to code, https", f"{1000 * percentile(sos_https, 50):.0f} ms",
         f"{1000 * percentile(sos_https, 95):.0f} ms", f"{1000 * percentile(baseline, 50):.0f} ms",
         result["sos_to_code_https_ratio_p50"], ""),
        *[(f"idle in tray (RSS), {name}", f"{value / mb:.1f} MB", "", f"{tk_rss / mb:.1f} MB (empty Tk)",
           ratio(value, tk_rss), f"≤ 40 MB {verdict(value <= 40 * mb)}") for name, value in rss.items()],
    ])
    emit("agent_sos", result)


def _command(module: Path, binary: Path | None, folder: Path) -> list[str]:
    """How to start the agent for ``module``: from source, or a copy of ``binary`` stamped with it."""
    if binary is None:
        return agent_command(module, None)
    folder.mkdir(parents=True, exist_ok=True)
    stamped = folder / binary.name
    _restamp(binary, module, stamped)
    return [str(stamped)]


def _register(server, tenant) -> tuple[str, str]:
    """The module's token and the queue's update key, as ``sosqueue build`` gets them (a new token)."""
    answer = httpx.post(f"{server.url}/api/v1/modules/{tenant.module_id}/rotate-token", timeout=20,
                        headers={"Authorization": f"Bearer {tenant.admin_token}"})
    answer.raise_for_status()
    return answer.json()["token"], answer.json()["update_key"]


def _tray_modules(http_url: str, https_url: str, module_id: str, token: str, update_key: str, certificate: Path,
                  scratch: Path) -> dict[str, tuple[Path, dict]]:
    """The idle tray's modules, each with the queue's update key, and the environment each runs in."""
    trusted = hashed_folder(scratch / "trusted", certificate)  # the system CA folder (SSL_CERT_DIR) trusts the test CA
    variants = {"http": (http_url, None, {}), "https": (https_url, None, {"SSL_CERT_DIR": str(trusted)}),
                "https_module_ca": (https_url, certificate.read_bytes(), {})}
    modules = {}
    for name, (url, ca_bundle, extra_env) in variants.items():
        config = dataclasses.replace(
            module_config(server_url=url, module_id=module_id, module_token=token, ca_bundle=ca_bundle),
            update_key=update_key)
        path = scratch / f"tray-{name}.bin"
        path.write_bytes(module_payload_for(config).to_bytes())
        modules[name] = (path, extra_env)
    return modules


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
    contents = binary.resolve().parent / "_internal"  # an onedir module's libraries
    if contents.is_dir():
        (target.parent / "_internal").symlink_to(contents)


if __name__ == "__main__":
    sys.exit(main())
