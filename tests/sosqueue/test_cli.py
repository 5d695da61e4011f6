"""The ``sosqueue`` command's root, run as a real process: what its output does when nobody reads it."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.modules import write_module_file

REPO = Path(__file__).resolve().parents[2]
SOSQUEUE = [sys.executable, "-c", "from sosqueue.cli import main; main()"]


def test_inspect_piped_into_head_exits_0_quietly(tmp_path):
    """``sosqueue inspect MODULE | head -1``: the first line, exit 0 for both, nothing on stderr."""
    module = write_module_file(tmp_path / "acme.module", server_url="https://queue.example.com",
                               module_id="mod-1", module_token="mod_0123456789abcdef")
    pipeline = subprocess.run(["bash", "-c", 'set -o pipefail; "$@" | head -1', "pipeline",
                               *SOSQUEUE, "inspect", str(module)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
    assert pipeline.returncode == 0, pipeline.stderr
    assert pipeline.stdout == "{\n"
    assert pipeline.stderr == ""


def test_inspect_into_a_closed_pipe_exits_0_quietly(tmp_path):
    """Every write fails (the reader is gone before the first): still exit 0, no error, no traceback."""
    module = write_module_file(tmp_path / "acme.module", server_url="https://queue.example.com",
                               module_id="mod-1", module_token="mod_0123456789abcdef")
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([*SOSQUEUE, "inspect", str(module)], cwd=REPO, stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
