"""Libraries depend on no process: nothing under libs/ imports a service package (auth, tasks,
agent, the edge) or the test kit (which imports them all), and no library declares one as a
dependency. Imports are read from the syntax tree, so one inside a function counts too."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBS = ROOT / "libs"


def _packages_under(pattern: str) -> set[str]:
    """Import names of the workspace packages matching `pattern` (their src/ folders)."""
    return {path.name for path in ROOT.glob(f"{pattern}/src/*") if (path / "__init__.py").exists()}


# Every process, and the dev-only test kit that starts them.
FORBIDDEN = _packages_under("services/*") | _packages_under("edge") | _packages_under("testkit")


def imported_packages(source: str) -> set[str]:
    """The top-level packages a module imports, wherever in the module the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _distribution(requirement: str) -> str:
    """The distribution a requirement names (`todo-common>=0.1` → `todo-common`)."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement.strip())
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def test_the_forbidden_packages_are_the_processes_and_the_test_kit() -> None:
    assert {"todo_auth", "todo_tasks", "todo_agent", "todo_edge", "todo_testkit"} <= FORBIDDEN


def test_imports_are_found_anywhere_in_a_module() -> None:
    source = (
        "import os, todo_auth.server\n"
        "from todo_edge.settings import EdgeSettings\n"
        "from . import sibling\n"
        "def later():\n"
        "    from todo_testkit.ports import free_port\n"
    )
    assert imported_packages(source) == {"os", "todo_auth", "todo_edge", "todo_testkit"}


def test_no_module_under_libs_imports_a_process_or_the_test_kit() -> None:
    modules = sorted(LIBS.rglob("*.py"))
    assert len(modules) > 10, "the libraries' modules were not found"
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path.read_text()) & FORBIDDEN)
        for path in modules
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_library_depends_on_a_process_or_the_test_kit() -> None:
    distributions = {name.replace("_", "-") for name in FORBIDDEN}
    declared: dict[str, list[str]] = {}
    for pyproject in sorted(LIBS.glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        names = {_distribution(dependency) for dependency in project.get("dependencies", [])}
        declared[project["name"]] = sorted(names & distributions)
    assert declared and all(not names for names in declared.values()), declared
