"""The shape of the package, checked: the journal is the only module that talks to the
database, and the modules import each other without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import smsframe

PACKAGE = Path(smsframe.__file__).parent


def module_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it is imported: top-level statements only (not
    inside functions, nor under ``if TYPE_CHECKING:``)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def modules() -> dict[str, set[str]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = module_imports(path)
    return found


def test_only_the_journal_imports_sqlalchemy():
    users = {
        name
        for name, imports in modules().items()
        if any(i == "sqlalchemy" or i.startswith("sqlalchemy.") for i in imports)
    }
    assert users == {"smsframe.journal"}


def test_no_import_cycle():
    found = modules()
    graph = {
        name: {i for i in imports if i in found and i != name and not name.startswith(i + ".")}
        for name, imports in found.items()
        if name != "smsframe"  # the package's face imports everything
    }
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        assert name not in path, " -> ".join([*path, name])
        if name in done:
            return
        for imported in graph.get(name, ()):
            visit(imported, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])
