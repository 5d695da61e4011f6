"""Connect's capture cost: the agent's CPU while it shares a screen that does not change.

    python benchmarks/connect_capture.py [--seconds 5] [--grabs 30] [--agent-tree PATH]

Starts a real X server (Xvfb, 1280×800) with a full-screen painter window (tests/e2e/painter.py)
and, for each phase, a fresh worker process (this script with ``--worker``) that runs the
agent's own :class:`~agent.connect.sharing.Sharer` on the real capture, frames going to a sink
that acknowledges each one at once as the expert's browser does. After the first frame the
worker measures its own process CPU time over ``--seconds``:

- ``idle_share_cpu_percent``: the agent as it is, the screen unchanged (**target ≤ 2 % of a
  core**); on X11 it grabs only when the X server reports a change (DAMAGE);
- ``idle_share_compare_cpu_percent``: the same without change reports, as where the system
  gives none: grab and compare, slower once the screen stands still;
- ``baseline_every_poll_cpu_percent``: **the baseline**, grab and compare every poll
  (80 ms) without a pause, which is what sharing cost before change reports;
- ``idle_process_cpu_percent``: the worker with its capture open but not sharing (the floor);
- ``changed_share_cpu_percent``: the agent as it is while a 200-pixel box moves every 100 ms;
- ``grab_compare_cpu_ms``: CPU per grab and compare of the whole screen, ``--grabs`` in a row.

Percentages are CPU seconds per second of sharing, as % of one core. ``--agent-tree`` runs the
workers on another copy of the ``agent`` package (say, an older commit's, from ``git archive``);
phases that copy cannot run are null.
"""

import argparse
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, emit, log, machine, ratio, table, verdict

TARGET_PERCENT = 2.0
BOX = 200
MOVES_PER_SECOND = 10
STARTUP_PATIENCE = 60.0
READY = "ready"
#: The phases: (result key, worker mode, whether the box moves).
PHASES = (
    ("idle_process_cpu_percent", "idle", False),
    ("idle_share_cpu_percent", "share", False),
    ("idle_share_compare_cpu_percent", "compare", False),
    ("baseline_every_poll_cpu_percent", "every_poll", False),
    ("changed_share_cpu_percent", "share", True),
)


# -- the worker: one sharing agent, in a process of its own ----------------------------------


def worker(mode: str, seconds: float, grabs: int) -> None:
    """Share (or not) for ``seconds`` after the first frame; print the process CPU it took as JSON."""
    from agent.connect.capture import create_capture
    from agent.connect.sharing import POLL_SECONDS, Sharer

    if mode == "grab_compare":
        print(READY, flush=True)
        print(json.dumps(grab_compare(create_capture(), grabs)), flush=True)
        return
    frames = []
    options = sharer_options(mode, Sharer, POLL_SECONDS)
    if options is None:
        print(READY, flush=True)
        print(json.dumps({"unsupported": True}), flush=True)
        return
    opener = capture_opener(mode)
    if mode == "idle":
        capture = opener()
        print(READY, flush=True)
        result = measured(seconds)
        capture.close()
    else:
        sharer = Sharer(opener, lambda frame: frames.append(len(frame)) or sharer.acknowledge() or True, **options)
        sharer.start()
        deadline = time.monotonic() + STARTUP_PATIENCE
        while not frames and time.monotonic() < deadline:
            time.sleep(0.01)
        first = (grabs_of(sharer), len(frames), sharer.polls)
        print(READY, flush=True)
        result = measured(seconds)
        sharer.stop()
        sharer.join(10)
        grabs = grabs_of(sharer) - first[0]
        result.update(grabs=grabs, frames=len(frames) - first[1], frame_bytes=sum(frames[first[1]:]),
                      skipped=max(0, sharer.polls - first[2] - grabs))  # a look counts before its grab ends
    print(json.dumps(result), flush=True)


def grabs_of(sharer) -> int:
    """The sharer's grabs so far (before change reports every poll was a grab)."""
    return getattr(sharer, "grabs", sharer.polls)


def sharer_options(mode: str, sharer: type, poll_seconds: float) -> dict | None:
    """The Sharer's options for ``mode``, None when this copy of the agent has no such setting."""
    if mode in ("idle", "share"):
        return {}
    if "idle_poll_seconds" not in inspect.signature(sharer).parameters:
        return None
    return {"idle_poll_seconds": poll_seconds} if mode == "every_poll" else {}


def capture_opener(mode: str):
    from agent.connect.capture import create_capture

    if mode in ("compare", "every_poll"):
        from agent.connect.capture._linux import Capture

        return lambda: Capture(watch_changes=False)
    return create_capture


def measured(seconds: float) -> dict:
    """Sleep ``seconds`` (the sharer works in its thread) and return the process CPU it took meanwhile."""
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    return {"cpu_s": round(cpu, 4), "seconds": round(wall, 3), "cpu_percent": round(100 * cpu / wall, 3)}


def grab_compare(capture, grabs: int) -> dict:
    """CPU per grab of the whole screen and its comparison with the one before, as the sharer does it."""
    from agent.connect.frames import ChangeDetector

    detector = ChangeDetector()
    detector.remember(capture.grab())
    cpu = time.process_time()
    for _ in range(grabs):
        detector.changed(capture.grab())
    cpu = time.process_time() - cpu
    capture.close()
    return {"grabs": grabs, "cpu_ms": round(1000 * cpu / grabs, 3)}


# -- the parent: the X server, the painter, one worker per phase -----------------------------


def run_worker(mode: str, args, display: str, painter=None) -> dict:
    """One worker process in ``mode``; moves the box on ``painter`` while it measures, if given."""
    env = {**os.environ, "DISPLAY": display}
    env.pop("SOSQUEUE_CAPTURE", None)
    if args.agent_tree:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(args.agent_tree).resolve()), env.get("PYTHONPATH", "")])
    command = [sys.executable, __file__, "--worker", mode, "--seconds", str(args.seconds), "--grabs", str(args.grabs)]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=REPO) as process:
        if process.stdout.readline().strip() != READY:
            raise RuntimeError(f"the {mode} worker did not start (exit {process.wait()})")
        if painter is not None:
            move_box(painter, args.seconds)
        line = process.stdout.readline()
        if process.wait(STARTUP_PATIENCE) != 0 or not line:
            raise RuntimeError(f"the {mode} worker failed (exit {process.returncode})")
    result = json.loads(line)
    return {} if result.get("unsupported") else result


def move_box(painter, seconds: float) -> None:
    started, step = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        painter.box((step * 37) % (1280 - BOX), (step * 23) % (800 - BOX), BOX, "#ffcc00")
        step += 1
        time.sleep(max(0.0, step / MOVES_PER_SECOND - (time.monotonic() - started)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    parser.add_argument("--grabs", type=int, default=30, help="grabs for the CPU per grab and compare")
    parser.add_argument("--agent-tree", help="a directory holding another copy of the agent package")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.seconds, args.grabs)
        return

    from tests.e2e.desktop import Painter
    from tests.support.xserver import start_xvfb, stop

    scratch = Path(tempfile.mkdtemp(prefix="sosqueue-bench-capture-"))
    xvfb, display = start_xvfb()
    painter = Painter(display, scratch / "painter.log")
    try:
        painter.fill("#336699")
        phases = {}
        for key, mode, moving in PHASES:
            log(f"{key} …")
            phases[key] = run_worker(mode, args, display, painter if moving else None)
            painter.fill("#336699")
        grab = run_worker("grab_compare", args, display)
    finally:
        painter.close()
        stop(xvfb)
        shutil.rmtree(scratch, ignore_errors=True)
    report(args, phases, grab)


def report(args, phases: dict, grab: dict) -> None:
    def percent(key: str) -> float | None:
        return phases[key].get("cpu_percent")

    idle = percent("idle_share_cpu_percent")
    result = {
        "machine": machine(),
        "screen": "1280x800 (Xvfb), worker processes, frames to a sink that acks at once",
        "agent_tree": args.agent_tree or "this repository",
        **{key: percent(key) for key, _mode, _moving in PHASES},
        "ratio_idle_share_to_every_poll": ratio(idle or 0, percent("baseline_every_poll_cpu_percent") or 0),
        "grab_compare_cpu_ms": grab.get("cpu_ms"),
        "target": {"idle_share_cpu_percent": TARGET_PERCENT, "met": idle is not None and idle <= TARGET_PERCENT},
        "phases": phases,
    }
    rows = [("phase", "CPU % of a core", "grabs", "skipped looks", "frames", "frame bytes")]
    for key, _mode, _moving in PHASES:
        phase = phases[key]
        rows.append((key, phase.get("cpu_percent", "n/a"), phase.get("grabs", ""), phase.get("skipped", ""),
                     phase.get("frames", ""), phase.get("frame_bytes", "")))
    table(rows)
    log(f"grab and compare: {grab.get('cpu_ms')} ms CPU each; idle sharing ≤ {TARGET_PERCENT} % "
        f"{verdict(result['target']['met'])}")
    emit("connect_capture", result)


if __name__ == "__main__":
    sys.exit(main())
