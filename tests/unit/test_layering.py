"""Layering: only the CLI imports the CLI (shared helpers live in neutral modules such as
faceprint.parallel)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "faceprint"

#: Modules outside faceprint/cli that are CLI handlers themselves (they print; the CLI calls them).
CLI_HANDLERS = {"video/enrol.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_only_the_cli_imports_the_cli() -> None:
    bad = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("cli/") or rel in CLI_HANDLERS:
            continue
        if any(m == "faceprint.cli" or m.startswith("faceprint.cli.") for m in _imports(path)):
            bad.append(rel)
    assert not bad, f"these modules import faceprint.cli: {bad}"


def test_library_and_service_do_not_import_the_cli() -> None:
    for pkg in ("library", "service"):
        for path in (SRC / pkg).rglob("*.py"):
            assert not any(m.startswith("faceprint.cli") for m in _imports(path)), path


def test_map_ordered_keeps_order_and_runs_inline_for_one_job() -> None:
    import threading

    from faceprint.parallel import map_ordered

    assert list(map_ordered(lambda x: x * 2, range(50), 4)) == [x * 2 for x in range(50)]
    names = set(map_ordered(lambda _: threading.current_thread().name, range(3), 1))
    assert names == {threading.current_thread().name}
