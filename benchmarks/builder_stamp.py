"""Stamping a personalised module, compared with copying the same file and with a full build.

    python benchmarks/builder_stamp.py [--base PATH] [--runs 20] [--command-runs 10] [--full-build]

Measures, in one run:
- stamp: writing base + a ready payload atomically (copy, append, fsync, rename), against
  the baseline of copying the same file durably (copy, fsync); target stamp ≤ 3× copy;
- build: what ``sosqueue build`` does for a module (render the brand, then stamp), against
  the same baseline, for information;
- the whole ``sosqueue build`` command, as a process building a registered module without a
  queue to call: first with an empty cache (``build_command_cold_ms``: the brand is rendered),
  then again and again with the brand unchanged (``build_command_ms``, its CPU time
  ``build_command_cpu_ms``; target ≤ 200 ms), against the baseline of ``cp BASE TARGET && sync
  TARGET`` run as a process in between (``copy_command_ms``). The cache is a fresh folder of
  this run (``XDG_CACHE_HOME``: on Linux);
- the base's size (target: onefile ≤ 15 MiB on Linux) and, with ``--full-build``, the ratio
  of one build to one full PyInstaller build of the base.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from _common import REPO, emit, latency_ms, log, machine, ratio, table, verdict  # noqa: F401

from builder import bases, module_config  # noqa: E402
from sosqueue import payload  # noqa: E402
from builder.stamping import build_payload, stamp_module  # noqa: E402

MB = 1024 * 1024
SOSQUEUE = Path(sys.executable).with_name("sosqueue")
#: The whole command's target with an unchanged brand (issue 16).
BUILD_COMMAND_TARGET_MS = 200
#: The module the command builds: registered already, filing into a queue named in the config.
REGISTERED = {'id = ""': 'id = "mod-bench"', 'token = ""': 'token = "sqm_benchmarktoken"',
              '# url = "https://support.example.com"': 'url = "https://support.example.com"'}


def spec():
    return module_config.parse(tomllib.loads(module_config.template()), base_dir=REPO)


def time_copy(base: Path, target: Path) -> float:
    started = time.perf_counter()
    shutil.copyfile(base, target)
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())
    return time.perf_counter() - started


def time_stamp(base: Path, ready: payload.Payload, target: Path) -> float:
    started = time.perf_counter()
    payload.stamp(base, ready, target)
    return time.perf_counter() - started


def time_build(base: Path, out_dir: Path) -> float:
    started = time.perf_counter()
    stamp_module(spec(), base=base, out_dir=out_dir, module_id="bench", module_token="sqm_benchmarktoken")
    return time.perf_counter() - started


def write_config(folder: Path) -> Path:
    """The template as ``sosqueue module init`` writes it, with a registration and a queue filled in."""
    text = module_config.template()
    for template_line, filled in REGISTERED.items():
        text = text.replace(template_line, filled, 1)
    config = folder / "module.toml"
    config.write_text(text, encoding="utf-8")
    return config


def run_timed(command: list[str], **kwargs) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the process and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def time_build_command(config: Path, base: Path, out_dir: Path, cache: Path) -> tuple[float, float]:
    return run_timed([str(SOSQUEUE), "build", "--config", str(config), "--base", str(base), "--out", str(out_dir)],
                     env={**os.environ, "XDG_CACHE_HOME": str(cache)})


def time_copy_command(base: Path, target: Path) -> tuple[float, float]:
    return run_timed(["sh", "-c", 'cp "$1" "$2" && sync "$2"', "sh", str(base), str(target)])


def time_commands(base: Path, scratch: Path, runs: int) -> dict[str, list[float]]:
    """The build command cold (a new cache each time) and warm, and the copy command, interleaved."""
    config = write_config(scratch)
    times: dict[str, list[float]] = {"cold": [], "warm": [], "warm_cpu": [], "copy": [], "copy_cpu": []}
    for index in range(runs):
        out_dir = scratch / f"command-{index}"
        wall, _ = time_build_command(config, base, out_dir, scratch / f"cache-{index}")
        times["cold"].append(wall)
        for repeat in range(2):  # the brand unchanged: rendered by the cold run of this index
            wall, cpu = time_build_command(config, base, out_dir, scratch / f"cache-{index}")
            times["warm"].append(wall)
            times["warm_cpu"].append(cpu)
            wall, cpu = time_copy_command(base, out_dir / f"copy-{repeat}")
            times["copy"].append(wall)
            times["copy_cpu"].append(cpu)
        shutil.rmtree(out_dir)
    return times


def time_full_build(out_dir: Path) -> float:
    started = time.perf_counter()
    bases.build_base(out_dir)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=None, help="the base agent (default: sosqueue build-base's)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--command-runs", type=int, default=10,
                        help="cold builds of the whole command, each followed by two warm ones and two copies")
    parser.add_argument("--full-build", action="store_true", help="also time one full PyInstaller build")
    args = parser.parse_args()
    base = args.base or bases.default_base()
    if not base.exists():
        log(f"no base agent at {base}: building one first")
        base = bases.build_base()
    with tempfile.TemporaryDirectory(prefix="sosqueue-bench-") as scratch:
        scratch_path = Path(scratch)
        ready = build_payload(spec(), module_id="bench", module_token="sqm_benchmarktoken")
        copies, stamps, builds = [], [], []
        for index in range(args.runs):  # interleaved, so all see the same machine load
            copies.append(time_copy(base, scratch_path / f"copy-{index}"))
            stamps.append(time_stamp(base, ready, scratch_path / f"stamp-{index}"))
            builds.append(time_build(base, scratch_path / f"build-{index}"))
        payload_bytes = len(ready.to_bytes())
        commands = time_commands(base, scratch_path, args.command_runs)
        full_build = time_full_build(scratch_path / "full") if args.full_build else None
    stamp_median, copy_median = statistics.median(stamps), statistics.median(copies)
    build_median = statistics.median(builds)
    command_median, command_copy_median = statistics.median(commands["warm"]), statistics.median(commands["copy"])
    command_cold_median = statistics.median(commands["cold"])
    base_mb = base.stat().st_size / MB
    result = {
        "machine": machine(),
        "base": {"path": str(base), "size_mb": round(base_mb, 2), "target_mb": 15, "met": base_mb <= 15},
        "payload_kb": round(payload_bytes / 1024, 1),
        "stamp_ms": latency_ms(stamps),
        "copy_ms": latency_ms(copies),
        "build_ms": latency_ms(builds),
        "stamp_to_copy": {"ratio": ratio(stamp_median, copy_median), "target": 3.0,
                          "met": stamp_median <= 3 * copy_median},
        "build_to_copy": ratio(build_median, copy_median),
        "full_build_s": round(full_build, 1) if full_build else None,
        "build_to_full_build": ratio(build_median, full_build) if full_build else None,
        "build_command_ms": latency_ms(commands["warm"]),
        "build_command_cpu_ms": latency_ms(commands["warm_cpu"]),
        "build_command_cold_ms": latency_ms(commands["cold"]),
        "copy_command_ms": latency_ms(commands["copy"]),
        "copy_command_cpu_ms": latency_ms(commands["copy_cpu"]),
        "build_command_ratio_to_copy": ratio(command_median, command_copy_median),
        "build_command_cold_ratio_to_copy": ratio(command_cold_median, command_copy_median),
        "build_command_target": {"ms": BUILD_COMMAND_TARGET_MS, "met": 1000 * command_median <= BUILD_COMMAND_TARGET_MS},
    }
    table([
        ("measure", "value", "baseline", "ratio", "target"),
        ("stamp (median)", f"{1000 * stamp_median:.0f} ms", f"copy {1000 * copy_median:.0f} ms",
         result["stamp_to_copy"]["ratio"], f"≤ 3× {verdict(result['stamp_to_copy']['met'])}"),
        ("base size", f"{base_mb:.1f} MiB", "", "", f"≤ 15 MiB {verdict(result['base']['met'])}"),
        ("build = render + stamp", f"{1000 * build_median:.0f} ms", f"copy {1000 * copy_median:.0f} ms",
         result["build_to_copy"], "< 1 s"),
        ("full PyInstaller build", f"{full_build:.1f} s" if full_build else "skipped", "",
         result["build_to_full_build"] or "", ""),
        ("sosqueue build, brand unchanged", f"{1000 * command_median:.0f} ms",
         f"cp+sync {1000 * command_copy_median:.0f} ms", result["build_command_ratio_to_copy"],
         f"≤ {BUILD_COMMAND_TARGET_MS} ms {verdict(result['build_command_target']['met'])}"),
        ("sosqueue build, empty cache", f"{1000 * command_cold_median:.0f} ms",
         f"cp+sync {1000 * command_copy_median:.0f} ms", result["build_command_cold_ratio_to_copy"], ""),
    ])
    emit("builder_stamp", result)


if __name__ == "__main__":
    sys.exit(main())
