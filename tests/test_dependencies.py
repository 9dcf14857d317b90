"""Each member declares exactly the distributions it imports (checked on its source with ``ast``).

Module-level imports need a ``[project.dependencies]`` entry; imports inside a function or under
``if TYPE_CHECKING:`` (lazy, possibly optional) need a dependency or an optional extra; every declared
dependency must be imported somewhere. Sibling members count as ``vlmrobust-<member>``.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
# Declared dependencies a member needs at run time without importing them, with the reason.
NEEDED_WITHOUT_IMPORT: dict[str, dict[str, str]] = {
    "vlmrobust-train": {
        "jsonargparse": "LightningCLI needs jsonargparse[signatures], which lightning does not declare"
    },
}


def normalize(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """``"jsonargparse[signatures]>=4.32"`` -> ``"jsonargparse"`` (normalized)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"cannot read a distribution name from requirement {requirement!r}")
    return normalize(match.group(1))


@cache
def _import_to_dists() -> dict[str, tuple[str, ...]]:
    return {name: tuple(normalize(d) for d in dists) for name, dists in packages_distributions().items()}


def distribution_of(module: str) -> str | None:
    """The distribution providing ``module`` (dotted), ``None`` for the standard library.

    ``vlmrobust.<member>`` maps to ``vlmrobust-<member>``; a module that no installed distribution
    provides maps to its own normalized top-level name (an optional dependency not installed here).
    """
    top = module.partition(".")[0]
    if top in sys.stdlib_module_names:
        return None
    if top == "vlmrobust":
        return f"vlmrobust-{module.split('.')[1]}"
    dists = _import_to_dists().get(top, ())
    return dists[0] if len(dists) == 1 else normalize(top)


@dataclass
class Imports:
    """Distributions imported by a source tree, by where the import runs."""

    top_level: dict[str, set[str]] = field(default_factory=dict)  # distribution -> files importing it
    lazy: dict[str, set[str]] = field(default_factory=dict)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _modules(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or node.module in (None, "__future__"):
        return []  # relative imports stay inside the package
    return [node.module]


def collect_imports(src: Path) -> Imports:
    """Walk every ``*.py`` under ``src`` and sort its imports into top-level and lazy ones."""
    found = Imports()

    def visit(node: ast.AST, lazy: bool, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for module in _modules(child):
                    dist = distribution_of(module)
                    if dist is not None:
                        (found.lazy if lazy else found.top_level).setdefault(dist, set()).add(where)
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            inner = inner or (isinstance(child, ast.If) and _is_type_checking(child))
            visit(child, inner, where)

    for path in sorted(src.rglob("*.py")):
        where = str(path.relative_to(src))
        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False, where)
    return found


def check_member(member_dir: Path) -> list[str]:
    """Mismatches between what ``member_dir``'s ``src/`` imports and what its ``pyproject.toml`` declares."""
    project = tomllib.loads((member_dir / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    own = normalize(project["name"])
    declared = {requirement_name(r) for r in project.get("dependencies", [])}
    optional = {
        requirement_name(r) for reqs in project.get("optional-dependencies", {}).values() for r in reqs
    }
    imports = collect_imports(member_dir / "src")
    top = {d: files for d, files in imports.top_level.items() if d != own}
    lazy = {d: files for d, files in imports.lazy.items() if d != own}
    problems = [
        f"{own}: imports {d} at module level ({', '.join(sorted(files))}) but does not declare it"
        for d, files in sorted(top.items())
        if d not in declared
    ]
    problems += [
        f"{own}: imports {d} lazily ({', '.join(sorted(files))}) but declares it neither as a dependency "
        "nor in an optional extra"
        for d, files in sorted(lazy.items())
        if d not in declared | optional
    ]
    unused = declared - set(top) - set(lazy) - set(NEEDED_WITHOUT_IMPORT.get(own, {}))
    problems += [f"{own}: declares {d} but never imports it" for d in sorted(unused)]
    return problems


@pytest.mark.parametrize("member", MEMBERS)
def test_member_declares_what_it_imports(member: str) -> None:
    assert check_member(ROOT / "packages" / member) == []


def _fake_member(root: Path, dependencies: list[str], optional: list[str], code: dict[str, str]) -> Path:
    (root / "src" / "vlmrobust" / "fake").mkdir(parents=True)
    extras = f"[project.optional-dependencies]\nextra = {optional!r}\n" if optional else ""
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "vlmrobust-fake"\ndependencies = {dependencies!r}\n{extras}', encoding="utf-8"
    )
    for name, text in code.items():
        (root / "src" / "vlmrobust" / "fake" / name).write_text(text, encoding="utf-8")
    return root


def test_checker_accepts_a_consistent_member(tmp_path: Path) -> None:
    code = {
        "__init__.py": "import os\nimport numpy as np\nfrom vlmrobust.core.suggest import did_you_mean\nfrom . import b\n",
        "b.py": "from vlmrobust.fake import c\n\ndef f():\n    import pyarrow\n    import PIL.Image\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pyarrow\n",
    }  # PIL is declared as pillow (import name != distribution name); pyarrow only in an extra
    member = _fake_member(tmp_path, ["vlmrobust-core", "numpy>=1.26", "Pillow>=10"], ["pyarrow>=15"], code)
    assert check_member(member) == []


def test_checker_reports_undeclared_and_unused(tmp_path: Path) -> None:
    code = {
        "__init__.py": "import numpy\nimport scipy.stats\nfrom vlmrobust.data import evalsets\n",
        "lazy.py": "def f():\n    import pyarrow.parquet as pq\n    return pq\n",
    }
    member = _fake_member(tmp_path, ["numpy", "pandas>=2.1"], [], code)
    assert check_member(member) == [
        "vlmrobust-fake: imports scipy at module level (vlmrobust/fake/__init__.py) but does not declare it",
        "vlmrobust-fake: imports vlmrobust-data at module level (vlmrobust/fake/__init__.py) but does not declare it",
        "vlmrobust-fake: imports pyarrow lazily (vlmrobust/fake/lazy.py) but declares it neither as a dependency nor in an "
        "optional extra",
        "vlmrobust-fake: declares pandas but never imports it",
    ]
