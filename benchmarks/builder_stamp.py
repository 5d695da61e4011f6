"""Stamping a personalised module, compared with copying the same file and with a full build.

    python benchmarks/builder_stamp.py [--base PATH] [--runs 20] [--full-build]

Measures, in one run:
- stamp: writing base + a ready payload atomically (copy, append, fsync, rename), against
  the baseline of copying the same file durably (copy, fsync); target stamp ≤ 3× copy;
- build: what ``sosqueue build`` does for a module (render the brand, then stamp), against
  the same baseline, for information;
- the base's size (target: onefile ≤ 25 MB on Linux) and, with ``--full-build``, the ratio
  of one build to one full PyInstaller build of the base.
"""

import argparse
import os
import shutil
import statistics
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


def time_full_build(out_dir: Path) -> float:
    started = time.perf_counter()
    bases.build_base(out_dir)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=None, help="the base agent (default: sosqueue build-base's)")
    parser.add_argument("--runs", type=int, default=20)
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
        full_build = time_full_build(scratch_path / "full") if args.full_build else None
    stamp_median, copy_median = statistics.median(stamps), statistics.median(copies)
    build_median = statistics.median(builds)
    base_mb = base.stat().st_size / MB
    result = {
        "machine": machine(),
        "base": {"path": str(base), "size_mb": round(base_mb, 2), "target_mb": 25, "met": base_mb <= 25},
        "payload_kb": round(payload_bytes / 1024, 1),
        "stamp_ms": latency_ms(stamps),
        "copy_ms": latency_ms(copies),
        "build_ms": latency_ms(builds),
        "stamp_to_copy": {"ratio": ratio(stamp_median, copy_median), "target": 3.0,
                          "met": stamp_median <= 3 * copy_median},
        "build_to_copy": ratio(build_median, copy_median),
        "full_build_s": round(full_build, 1) if full_build else None,
        "build_to_full_build": ratio(build_median, full_build) if full_build else None,
    }
    table([
        ("measure", "value", "baseline", "ratio", "target"),
        ("stamp (median)", f"{1000 * stamp_median:.0f} ms", f"copy {1000 * copy_median:.0f} ms",
         result["stamp_to_copy"]["ratio"], f"≤ 3× {verdict(result['stamp_to_copy']['met'])}"),
        ("base size", f"{base_mb:.1f} MB", "", "", f"≤ 25 MB {verdict(result['base']['met'])}"),
        ("build = render + stamp", f"{1000 * build_median:.0f} ms", f"copy {1000 * copy_median:.0f} ms",
         result["build_to_copy"], "< 1 s"),
        ("full PyInstaller build", f"{full_build:.1f} s" if full_build else "skipped", "",
         result["build_to_full_build"] or "", ""),
    ])
    emit("builder_stamp", result)


if __name__ == "__main__":
    sys.exit(main())
