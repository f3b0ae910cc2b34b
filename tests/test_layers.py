"""Import hygiene: the package layers of DESIGN.md hold, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"agent", "sandbox", "policies", "tui", "rempart"}
MAY_IMPORT = {
    "policies": set(),
    "sandbox": {"policies"},
    "agent": {"policies", "sandbox"},
    "tui": {"agent", "policies", "sandbox"},
    "rempart": {"agent", "policies", "sandbox", "tui"},  # the command line: nothing imports it
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(OURS))
def test_package_imports_only_the_layers_below_it(package: str) -> None:
    offenders = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sources(package)
        for name in imported_roots(path) & OURS - {package} - MAY_IMPORT[package]
    }
    assert not offenders


def test_building_the_parser_does_not_import_textual() -> None:
    code = "import sys, rempart.cli; rempart.cli.build_parser(); print('textual' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("package", sorted(OURS - {"tui"}))
def test_nothing_outside_tui_imports_textual(package: str) -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in sources(package) if "textual" in imported_roots(p)
    ]
    assert not offenders


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import textual.app\nfrom agent.loop import AgentLoop\n")
    assert imported_roots(bad) == {"textual", "agent"}
