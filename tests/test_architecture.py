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


# The modules of an optional extra: ``import smsframe.dask`` needs ``pip install
# smsframe[dask]``; every other module, only what ``pip install smsframe`` brings.
EXTRA_MODULES = {"smsframe.dask": "dask"}


def test_every_library_the_package_imports_comes_with_its_own_install():
    """What ``pip install smsframe`` brings (its dependencies and theirs, no extras) holds
    every library a module imports at its top: none only in the test extra. A module of
    an extra (:data:`EXTRA_MODULES`) may import what ``pip install smsframe[extra]``
    brings (the extra's requirements and theirs, with the extras they name), and no
    more."""
    installed = _closure("smsframe")
    extras = set(metadata.metadata("smsframe").get_all("Provides-Extra") or [])
    assert set(EXTRA_MODULES.values()) <= extras, "an extra EXTRA_MODULES names is not declared"
    found = modules()
    assert set(EXTRA_MODULES) <= set(found), "a module EXTRA_MODULES names is not in smsframe"
    owners = metadata.packages_distributions()
    missing = set()
    for module, imports in found.items():
        extra = EXTRA_MODULES.get(module)
        allowed = installed if extra is None else _closure("smsframe", (extra,))
        for name in imports:
            top = name.split(".")[0]
            if top in sys.stdlib_module_names | {"smsframe"}:
                continue
            if not {_normal(owner) for owner in owners.get(top, [top])} & allowed:
                missing.add(f"{module}: {top}" + (f" (not in smsframe[{extra}])" if extra else ""))
    assert not missing, f"imported, but not installed with smsframe: {sorted(missing)}"


def test_no_module_of_the_plain_install_imports_a_module_of_an_extra():
    """``import smsframe`` (or any module of it) works without the extras installed."""
    users = {
        name: sorted(i for i in imports if i in EXTRA_MODULES or i.split(".")[0] == "dask")
        for name, imports in modules().items()
        if name not in EXTRA_MODULES
    }
    assert not {name: found for name, found in users.items() if found}


def test_the_closure_of_an_extra_holds_more_than_the_plain_install():
    """The check of an extra's modules can fail: without the extra, dask is not there."""
    plain, with_dask = _closure("smsframe"), _closure("smsframe", ("dask",))
    assert "dask" not in plain and "distributed" not in plain
    assert {"dask", "distributed", "pandas", "pyarrow", "cloudpickle"} <= with_dask
    assert plain < with_dask
    assert "pytest" not in with_dask  # the test extra is not part of it


def _closure(distribution: str, extras: tuple[str, ...] = ()) -> set[str]:
    """``distribution`` (with ``extras``) and what it requires, recursively: each
    requirement with the extras it names, none else."""
    found: set[str] = set()
    done: set[tuple[str, frozenset[str]]] = set()
    todo = [(distribution, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        name = _normal(name)
        if (name, wanted) in done:
            continue
        done.add((name, wanted))
        found.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *wanted}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
