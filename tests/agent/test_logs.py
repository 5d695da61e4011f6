"""The agent's log file: it rotates like the standard library's RotatingFileHandler, with real files."""

import logging

from agent.logs import RotatingLog


def write(handler: RotatingLog, count: int, text: str = "x" * 50) -> None:
    logger = logging.getLogger(f"sosqueue.test.logs.{id(handler)}")
    logger.propagate = False
    logger.handlers[:] = [handler]
    for index in range(count):
        logger.warning("%03d %s", index, text)


def test_a_full_log_becomes_the_first_backup_and_the_oldest_goes(tmp_path):
    """Past max_bytes, agent.log moves to .1, .1 to .2 …; no more than ``backups`` are kept; none exceeds the limit."""
    path = tmp_path / "agent.log"
    handler = RotatingLog(path, max_bytes=300, backups=2)
    write(handler, 40)
    handler.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.log", "agent.log.1", "agent.log.2"]
    assert all(p.stat().st_size < 300 for p in tmp_path.iterdir())
    newest, older = path.read_text().splitlines(), (tmp_path / "agent.log.1").read_text().splitlines()
    assert newest[-1].startswith("039 ") and int(older[-1][:3]) + 1 == int(newest[0][:3])


def test_a_log_under_the_limit_is_appended_to(tmp_path):
    """A new start appends to the log it finds; nothing rotates below max_bytes."""
    path = tmp_path / "agent.log"
    path.write_text("earlier\n", encoding="utf-8")
    handler = RotatingLog(path, max_bytes=10_000, backups=3)
    write(handler, 3)
    handler.close()
    assert path.read_text(encoding="utf-8").splitlines()[0] == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["agent.log"]
