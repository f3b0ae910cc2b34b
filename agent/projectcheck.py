"""How a project is checked: the command a finished task must pass.

In order: a command in the task's own words (`run \\`make test\\``), `check:` in the
workspace's `.rempart/project.yaml`, the test instruction of `AGENTS.md`, then a runner
detected from the files the sandbox can see (pytest, make test, npm test, cargo test,
go test). The files are read through the sandbox, so a read-denied file is never opened.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable
from typing import Literal

import yaml
from pydantic import BaseModel

from policies.errors import RempartError

RUNNERS = frozenset(
    {"pytest", "python", "python3", "make", "npm", "yarn", "pnpm", "cargo", "go", "tox",
     "nox", "bash", "sh", "node", "uv", "poetry", "just", "ctest", "mvn", "gradle", "ruff",
     "mypy", "unittest"}
)  # fmt: skip
PYTEST = "python3 -m pytest -q -x -p no:cacheprovider"
BACKTICKS = re.compile(r"`([^`\n]{2,200})`")
CHECK_WORDS = re.compile(r"\b(test\w*|check\w*|verif\w*|lint\w*)", re.IGNORECASE)
TEST_FILE = re.compile(r"(^|/)(test_[^/]*\.py|[^/]*_test\.py|conftest\.py)$")

ReadText = Callable[[str], str | None]  # workspace path -> text, None when absent/unreadable


CheckKind = Literal["test", "run"]


class ProjectCheck(BaseModel):
    command: str
    source: str  # where it came from, said to the person and the model
    # "run": a command the task says to run that is not a test runner (`python3 app.py x`):
    # its failure is a failure, but its success shows only that the program ran
    kind: CheckKind = "test"
    # what a run check printed before any change, when the task says the output must not
    # change (`agent.baseline`): printing anything else then fails the check
    expect_output: str | None = None


class ProjectFileError(RempartError):
    """`.rempart/project.yaml` is not what it should be."""


# sentence ends, but not inside "e.g." or "i.e."
SENTENCES = re.compile(r"(?<=[.!?])(?<!e\.g\.)(?<!i\.e\.)\s+|\n\s*\n")
ASKS_TO_RUN = re.compile(r"\b(run|check|test|pass|verify|try|must|should)", re.I)
FORBIDS = re.compile(r"\b(do not|don't|never|must not|should not)\b", re.I)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return []


def _is_command(text: str) -> bool:
    """A command line, not a file name: its first word is a known runner or `./x`."""
    words = _words(text)
    return bool(words) and (words[0] in RUNNERS or words[0].startswith("./"))


def _is_test_runner(text: str) -> bool:
    words = _words(text)
    joined = " ".join(words)
    return bool(words) and (
        words[0] in ("pytest", "tox", "nox", "ctest")
        or "-m pytest" in joined
        or "-m unittest" in joined
        or joined.startswith(("make test", "make check", "npm test", "npm run test"))
        or joined.startswith(("cargo test", "go test", "yarn test", "pnpm test"))
    )


def from_task(task: str) -> ProjectCheck | None:
    """A test command the task names in backticks; else a command it says to run.

    "Run/try/check ..." sentences name the command, or point back at the one in the
    sentence before ("..., e.g. `python3 tool.py app.log --limit 3`. Try it on app.log.").
    A bare interpreter (`python3`) checks nothing and is never the check.
    """
    spans = [span.strip() for span in BACKTICKS.findall(task)]
    for span in spans:
        if _is_test_runner(span):
            return ProjectCheck(command=span, source="the task")
    previous: list[str] = []
    for sentence in SENTENCES.split(task):
        commands = [s.strip() for s in BACKTICKS.findall(sentence) if _is_command(s.strip())]
        commands = [c for c in commands if len(_words(c)) > 1 or c.startswith("./")]
        if ASKS_TO_RUN.search(sentence) and not FORBIDS.search(sentence):
            for command in commands or previous:
                kind: CheckKind = "test" if _is_test_runner(command) else "run"
                return ProjectCheck(command=command, source="the task", kind=kind)
        previous = commands
    return None


def from_project_file(text: str, where: str) -> ProjectCheck | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProjectFileError(f"{where}: not valid YAML: {exc}") from exc
    if data is None:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("check", ""), str):
        raise ProjectFileError(f"{where}: expected a mapping with `check: COMMAND`")
    command = str(data.get("check", "")).strip()
    return ProjectCheck(command=command, source=where) if command else None


def from_agents_md(text: str) -> ProjectCheck | None:
    """The first backticked or fenced command on a line (or under a heading) about tests."""
    context = False
    fenced = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            if context and _is_command(stripped.lstrip("$ ")):
                return ProjectCheck(command=stripped.lstrip("$ "), source="AGENTS.md")
            continue
        if stripped.startswith("#"):
            context = bool(CHECK_WORDS.search(stripped))
            continue
        if CHECK_WORDS.search(stripped) or context:
            for span in BACKTICKS.findall(stripped):
                if _is_command(span):
                    return ProjectCheck(command=span.strip(), source="AGENTS.md")
        if stripped and CHECK_WORDS.search(stripped):
            context = True
    return None


def detect(files: Iterable[str], read: ReadText) -> ProjectCheck | None:
    """A runner the project's files imply."""
    names = list(files)
    present = set(names)
    if "Makefile" in present and re.search(r"^test:", read("Makefile") or "", re.M):
        return ProjectCheck(command="make test", source="detected: Makefile `test` target")
    if "package.json" in present:
        try:
            scripts = json.loads(read("package.json") or "{}").get("scripts", {})
        except (ValueError, AttributeError):
            scripts = {}
        if isinstance(scripts, dict) and "test" in scripts:
            return ProjectCheck(command="npm test", source="detected: package.json test script")
    if "Cargo.toml" in present:
        return ProjectCheck(command="cargo test", source="detected: Cargo.toml")
    if "go.mod" in present:
        return ProjectCheck(command="go test ./...", source="detected: go.mod")
    pyproject = read("pyproject.toml") if "pyproject.toml" in present else None
    if (
        any(TEST_FILE.search(name) for name in names)
        or "pytest.ini" in present
        or (pyproject is not None and "[tool.pytest" in pyproject)
    ):
        return ProjectCheck(command=PYTEST, source="detected: pytest (test files)")
    return None


def find_check(task: str, files: Iterable[str], read: ReadText) -> ProjectCheck | None:
    """The project's check, by the order in the module docstring; None when none is known."""
    found = from_task(task)
    if found is not None:
        return found
    names = list(files)
    if ".rempart/project.yaml" in names:
        found = from_project_file(read(".rempart/project.yaml") or "", ".rempart/project.yaml")
        if found is not None:
            return found
    agents = read("AGENTS.md") if "AGENTS.md" in names else None
    if agents:
        found = from_agents_md(agents)
        if found is not None:
            return found
    return detect(names, read)
