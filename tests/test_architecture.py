"""The shape of the package, checked: the journal is the only module that talks to the
database, and the modules import each other without a cycle."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

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


def test_every_library_the_package_imports_comes_with_its_own_install():
    """What ``pip install smsframe`` brings (its dependencies and theirs, no extras) holds
    every library a module imports at its top: none only in the test extra."""
    installed = _closure("smsframe")
    owners = metadata.packages_distributions()
    imported = {
        name.split(".")[0]
        for imports in modules().values()
        for name in imports
        if name.split(".")[0] not in sys.stdlib_module_names | {"smsframe"}
    }
    missing = {
        module
        for module in imported
        if not {_normal(owner) for owner in owners.get(module, [module])} & installed
    }
    assert not missing, f"imported, but not installed with smsframe: {sorted(missing)}"


def _closure(distribution: str) -> set[str]:
    """``distribution`` and what it requires, recursively, without extras."""
    found: set[str] = set()
    todo = [distribution]
    while todo:
        name = _normal(todo.pop())
        if name in found:
            continue
        found.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
