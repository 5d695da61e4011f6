"""The import rules between the parts (README, "Architecture"), checked over the source tree.

The shared core ``sosqueue`` imports none of the parts; the agent imports only the shared core
(never the server, the builder or branding, so the frozen agent carries none of them); branding
and the builder never import the agent; the server uses the builder only through its public
package (``import builder``), never its modules.
"""

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PARTS = ("sosqueue", "agent", "builder", "branding", "server")

#: For each part, the parts it must not import at all.
FORBIDDEN = {
    "sosqueue": {"agent", "builder", "branding", "server"},
    "agent": {"builder", "branding", "server"},
    "branding": {"agent", "builder", "server"},
    "builder": {"agent", "server"},
    "server": {"agent"},
}
#: Parts that another part may import only as the package itself (its public interface).
PUBLIC_ONLY = {"server": {"builder"}}
#: What the shared core may import besides the standard library (only its command line needs click).
SHARED_CORE_THIRD_PARTY = {"sosqueue/cli.py": {"click"}}


def imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute module name ``path`` imports, with its line (``from x import y`` also as ``x.y``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def sources(part: str) -> list[Path]:
    return sorted(path for path in (REPO / part).rglob("*.py") if "__pycache__" not in path.parts)


def violations(part: str) -> list[str]:
    problems = []
    for path in sources(part):
        where = path.relative_to(REPO).as_posix()
        for line, name in imports(path):
            top = name.partition(".")[0]
            if top in FORBIDDEN[part]:
                problems.append(f"{where}:{line} imports {name}")
            elif top in PUBLIC_ONLY.get(part, ()) and "." in name and not _is_public_name(name):
                problems.append(f"{where}:{line} imports {name}, an internal module of {top}")
    return problems


def _is_public_name(name: str) -> bool:
    """``builder.X`` is public when ``X`` is a name the package exports, not a module of its own."""
    package, _, attribute = name.partition(".")
    return "." not in attribute and not ((REPO / package / f"{attribute}.py").exists()
                                         or (REPO / package / attribute).is_dir())


@pytest.mark.parametrize("part", PARTS)
def test_each_part_imports_only_what_the_architecture_allows(part):
    """No part imports a part it must not (the README's architecture section lists the rules)."""
    assert violations(part) == []


def test_the_shared_core_needs_only_the_standard_library():
    """The frozen agent carries the shared core: it must not pull in third-party packages (click only for the CLI)."""
    problems = []
    for path in sources("sosqueue"):
        where = path.relative_to(REPO).as_posix()
        allowed = SHARED_CORE_THIRD_PARTY.get(where, set())
        for line, name in imports(path):
            top = name.partition(".")[0]
            if top not in sys.stdlib_module_names and top != "sosqueue" and top not in allowed:
                problems.append(f"{where}:{line} imports {name}")
    assert problems == []


def test_the_rules_catch_a_forbidden_import(tmp_path, monkeypatch):
    """The checker itself finds a forbidden import and an internal one (so a pass means something)."""
    for part in ("agent", "server", "builder"):
        (tmp_path / part).mkdir()
    (tmp_path / "builder" / "stamping.py").write_text("")
    (tmp_path / "agent" / "bad.py").write_text("from server import queue\n")
    (tmp_path / "server" / "bad.py").write_text("from builder.stamping import stamp_module\nfrom builder import stamp_module\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert violations("agent") == ["agent/bad.py:1 imports server", "agent/bad.py:1 imports server.queue"]
    assert violations("server") == ["server/bad.py:1 imports builder.stamping, an internal module of builder",
                                    "server/bad.py:1 imports builder.stamping.stamp_module, an internal module of builder"]
