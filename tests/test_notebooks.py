"""Every notebook in notebooks/ runs from top to bottom, as documentation must.

Each is executed with nbclient in a fresh ``python3`` kernel, with ``notebooks/`` as
its working directory. Checks: stored without outputs; no cell errors; a PNG for
every cell that draws a chart (calls ``.plot(``); no password the notebook uses
(assigned to a ``*password*`` name, or passed to ``SmsClient`` or ``add_account``) in any
output; under a minute.
"""

from __future__ import annotations

import ast
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
PASSWORD_ARGUMENT = {"SmsClient": 3, "add_account": 2}  # position of the password
DRAWS = re.compile(r"\.plot\(|\.plot\.\w+\(|\.hist\(")
BUDGET_S = 60


def test_the_notebooks_are_there():
    names = {path.name for path in PATHS}
    assert {"01-quickstart.ipynb", "03-audit.ipynb"} <= names


@pytest.fixture(params=PATHS, ids=[path.name for path in PATHS])
def notebook(request) -> tuple[Path, nbformat.NotebookNode]:
    path = request.param
    return path, nbformat.read(path, as_version=4)


def test_stored_without_outputs(notebook):
    path, nb = notebook
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: clear the outputs before committing"
            assert cell.execution_count is None, path.name


def test_runs_without_errors_and_draws_its_charts(notebook):
    path, nb = notebook
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # inline, not Agg
    client = NotebookClient(
        nb,
        timeout=BUDGET_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.perf_counter()
    client.execute(env=env)
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET_S, f"{path.name} took {elapsed:.0f} s"

    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    secrets = set().union(*(passwords(cell.source) for cell in code))
    for number, cell in enumerate(code, 1):
        where = f"{path.name}, code cell {number}"
        kinds = [output.output_type for output in cell.outputs]
        assert "error" not in kinds, where
        text = json.dumps(cell.outputs, ensure_ascii=False)
        assert "Traceback" not in text, where
        for secret in secrets:
            assert secret not in text, f"{where} shows a password"
        if DRAWS.search(cell.source):
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert images, f"{where} draws a chart but has no PNG output"


def passwords(source: str) -> set[str]:
    """The password literals of a cell: ``PASSWORD = "..."`` (also in a tuple assignment),
    ``SmsClient(url, id, name, "...")``, ``sim.add_account(id, name, "...")``."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    found: set[str] = set()

    def literal(node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
            found.add(node.value)

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                pairs = [(target, node.value)]
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts, strict=False))
                for name, value in pairs:
                    if isinstance(name, ast.Name) and "password" in name.id.lower():
                        literal(value)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            position = PASSWORD_ARGUMENT.get(called)
            if position is not None and len(node.args) > position:
                literal(node.args[position])
            for keyword in node.keywords:
                if keyword.arg and "password" in keyword.arg.lower():
                    literal(keyword.value)
    return found


def test_passwords_are_found():
    source = (
        '%matplotlib inline\nA, PASSWORD = 1, "p1"\nSmsClient(u, 1, "n", "p2")\n'
        'sim.add_account(1, "n", "p3", balance=5)\nSmsClient(u, 1, "n", password="p4")'
    )
    assert passwords(source) == {"p1", "p2", "p3", "p4"}
