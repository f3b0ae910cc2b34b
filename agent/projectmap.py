"""What a small model is told about the project before its first step.

A bounded map of the files the sandbox can see (read-denied files are not in the sandbox,
so they are neither listed nor opened), the likely entry points, how the work will be
checked, and `AGENTS.md` when present. It saves the model the first few steps of looking
around, which a 1.5B model often gets wrong. The README's head is left out on purpose: with
it in the first message, the embedded model edited README.md instead of the code in both
real bug-fix runs we looked at (a task about calc.py).
"""

from __future__ import annotations

from collections.abc import Callable

from agent.projectcheck import ProjectCheck

MAX_ENTRIES = 60
AGENTS_CHARS = 2_000
NOISE = (".git/", "__pycache__/", ".venv/", "venv/", "node_modules/", ".mypy_cache/",
         ".pytest_cache/", ".ruff_cache/", ".tox/", "dist/", "build/", ".eggs/")  # fmt: skip
ENTRY_NAMES = frozenset(
    {"main.py", "app.py", "cli.py", "__main__.py", "manage.py", "setup.py", "pyproject.toml",
     "Makefile", "package.json", "Cargo.toml", "go.mod"}
)  # fmt: skip

ReadText = Callable[[str], str | None]


def visible(entries: list[str]) -> list[str]:
    """The entries worth showing (no VCS internals, caches or virtualenvs)."""
    return [e for e in entries if not any(e.startswith(n) or f"/{n}" in f"/{e}" for n in NOISE)]


def project_context(entries: list[str], read: ReadText, check: ProjectCheck | None) -> str:
    shown = visible(entries)
    files = [e for e in shown if not e.endswith("/")]
    lines = [f"Project files ({len(files)} files; paths relative to the workspace root):"]
    for entry in shown[:MAX_ENTRIES]:
        depth = entry.rstrip("/").count("/")
        name = entry.rstrip("/").rsplit("/", 1)[-1] + ("/" if entry.endswith("/") else "")
        mark = "  (entry point)" if name in ENTRY_NAMES else ""
        lines.append(f"{'  ' * (depth + 1)}{name}{mark}")
    if len(shown) > MAX_ENTRIES:
        lines.append(f"  [... {len(shown) - MAX_ENTRIES} more: use list_files ...]")
    if check is not None:
        lines.append(
            f"\nHow the work is checked: `{check.command}` (from {check.source}). When you "
            "call finish, Rempart runs it; the task counts as done only if it passes."
        )
    else:
        lines.append("\nNo test command is known for this project: check your work by running it.")
    agents = read("AGENTS.md") if "AGENTS.md" in files else None
    if agents:
        lines.append(f"\nAGENTS.md (instructions for agents):\n{agents[:AGENTS_CHARS].strip()}")
    return "\n".join(lines)
