"""The durable outbox: a submission is on disk, whole, before anything goes on the network."""

import json
import os
import uuid
from pathlib import Path

import pytest

from agent.errors import AgentExit, StorageFailure
from agent.outbox import Outbox, Submission, backoff_delays, write_atomically


@pytest.fixture
def outbox(tmp_path) -> Outbox:
    return Outbox(tmp_path / "outbox")


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_added_submission_reads_back_equal(outbox):
    """What was added is what ``pending`` returns: body, source, key and time."""
    added = outbox.add(Submission(body={"description": "Drucker brennt ✓", "end_customer": {"name": "Ann"}}, source="sos"))
    assert outbox.pending() == [added]


def test_submission_is_one_json_file_named_by_its_key(outbox):
    """Each submission is ``<idempotency key>.json``, complete JSON, with no temporary files left."""
    added = outbox.add(Submission(body={"description": "x"}, source="module"))
    assert _names(outbox.directory) == [f"{added.key}.json"]
    assert json.loads((outbox.directory / f"{added.key}.json").read_text())["key"] == added.key


def test_each_submission_gets_its_own_idempotency_key():
    """Two submissions with the same body still have different keys (they are two clicks)."""
    first, second = Submission(body={}, source="sos"), Submission(body={}, source="sos")
    assert first.key != second.key
    assert uuid.UUID(first.key)


def test_pending_is_oldest_first(outbox):
    """Waiting submissions come back in the order they were made, not by file name."""
    times = [300.0, 100.0, 200.0]
    for created_at in times:
        outbox.add(Submission(body={"description": str(created_at)}, source="sos", created_at=created_at))
    assert [s.created_at for s in outbox.pending()] == sorted(times)


def test_done_removes_only_that_submission(outbox):
    """A delivered submission leaves the outbox; the others stay."""
    first = outbox.add(Submission(body={"n": 1}, source="sos"))
    second = outbox.add(Submission(body={"n": 2}, source="sos"))
    outbox.done(first)
    assert outbox.pending() == [second]


def test_reject_keeps_the_record_with_its_reason(outbox):
    """A refused submission moves to ``rejected/`` with the server's reason, out of the queue."""
    refused = outbox.add(Submission(body={"description": "x"}, source="sos"))
    outbox.reject(refused, "description: too long")
    assert outbox.pending() == []
    record = json.loads((outbox.rejected_directory / f"{refused.key}.json").read_text())
    assert record["rejected"] == "description: too long"
    assert record["body"] == {"description": "x"}
    assert record["key"] == refused.key


def test_foreign_and_broken_files_are_skipped_and_kept(outbox):
    """Files that are not submissions are neither delivered nor deleted."""
    kept = outbox.add(Submission(body={}, source="sos"))
    (outbox.directory / "notes.json").write_text("[1, 2]")
    (outbox.directory / "half.json").write_text('{"body": {')
    (outbox.directory / "README.txt").write_text("hello")
    assert outbox.pending() == [kept]
    assert {"notes.json", "half.json", "README.txt"} <= set(_names(outbox.directory))


def test_missing_outbox_directory_is_empty(tmp_path):
    """An outbox that was never written has nothing pending."""
    assert Outbox(tmp_path / "never").pending() == []


def test_outbox_whose_parent_is_a_file_is_a_storage_failure(tmp_path):
    """A data directory that cannot be created is StorageFailure with plain words."""
    blocker = tmp_path / "profile"
    blocker.write_text("a file where a folder should be")
    outbox = Outbox(blocker / "data" / "outbox")
    with pytest.raises(StorageFailure) as caught:
        outbox.add(Submission(body={}, source="sos"))
    message = str(caught.value)
    assert "Traceback" not in message and "Errno" not in message
    assert str(blocker / "data" / "outbox") in message
    assert caught.value.exit_code == AgentExit.STORAGE


def test_directory_that_refuses_files_is_a_storage_failure():
    """A directory that exists but takes no new files (here /proc/self) is StorageFailure."""
    with pytest.raises(StorageFailure, match="could not be saved"):
        Outbox(Path("/proc/self")).add(Submission(body={}, source="sos"))


def test_failed_replace_leaves_no_partial_file(tmp_path):
    """When the final rename fails, the temporary file is removed and the target is untouched."""
    target = tmp_path / "out" / "request.json"
    target.mkdir(parents=True)  # a directory in the way: os.replace fails after the data was written
    with pytest.raises(StorageFailure):
        write_atomically(target, b'{"a": 1}')
    assert _names(tmp_path / "out") == ["request.json"]
    assert target.is_dir()


def test_atomic_write_replaces_whole_file(tmp_path):
    """Writing over an existing file gives exactly the new bytes and no temporary files."""
    target = tmp_path / "state.json"
    target.write_bytes(b"old contents that are longer than the new ones")
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["state.json"]


def test_atomic_write_creates_a_readable_file_for_the_owner(tmp_path):
    """The written file is a regular file readable by its owner."""
    target = tmp_path / "state.json"
    write_atomically(target, b"{}")
    assert target.is_file() and os.access(target, os.R_OK)


def test_backoff_doubles_from_the_start_and_stops_at_the_cap():
    """Without jitter the delays are 1, 2, 4, 8 and then the cap of 8 seconds."""
    delays = backoff_delays(start=1.0, cap=8.0, jitter=lambda low, high: 1.0)
    assert [next(delays) for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]


def test_backoff_jitter_scales_each_delay_within_twenty_percent():
    """The jitter is asked for a factor between 0.8 and 1.2 and multiplies the delay by it."""
    asked = []

    def highest(low, high):
        asked.append((low, high))
        return high

    delays = backoff_delays(start=1.0, cap=8.0, jitter=highest)
    assert [next(delays) for _ in range(3)] == [pytest.approx(1.2), pytest.approx(2.4), pytest.approx(4.8)]
    assert asked == [(0.8, 1.2)] * 3


def test_killed_writer_never_leaves_a_half_submission(tmp_path):
    """SIGKILL while submissions are being written: every ``.json`` left behind is whole."""
    import signal
    import subprocess
    import sys

    from tests.support.polling import eventually

    directory = tmp_path / "outbox"
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys; from pathlib import Path; from agent.outbox import Outbox, Submission\n"
        "box = Outbox(Path(sys.argv[1]))\n"
        "while True: box.add(Submission(body={'description': 'x' * 2_000_000}, source='sos'))\n"
    ), str(directory)], cwd=Path(__file__).resolve().parents[2])
    try:
        eventually(lambda: directory.is_dir() and len(list(directory.glob("*.json"))) >= 3, what="three submissions")
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    files = list(directory.glob("*.json"))
    assert len(Outbox(directory).pending()) == len(files)
