"""How a project is checked: the task's words, .rempart/project.yaml, AGENTS.md, detection."""

from __future__ import annotations

import pytest

from agent.finishing import asks_for_change
from agent.projectcheck import PYTEST, ProjectFileError, find_check


def reader(files: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda path: files.get(path)


def test_a_command_the_task_names_comes_first() -> None:
    files = {"test_a.py": "", "AGENTS.md": "Run tests with `make check`."}
    found = find_check(
        "Fix the parser; run `python3 -m unittest -q` to check.", files, reader(files)
    )
    assert found is not None and found.command == "python3 -m unittest -q"
    assert found.source == "the task"


def test_backticked_names_that_are_not_commands_are_not_checks() -> None:
    assert find_check("Rename `get_usr` to `get_user` everywhere.", [], reader({})) is None


def test_the_project_file_comes_before_agents_md() -> None:
    files = {".rempart/project.yaml": "check: make lint test\n", "AGENTS.md": "Test: `pytest`"}
    found = find_check("fix it", files, reader(files))
    assert found is not None and found.command == "make lint test"


def test_a_malformed_project_file_is_an_error_for_a_person() -> None:
    files = {".rempart/project.yaml": "check: [unclosed\n"}
    with pytest.raises(ProjectFileError, match=r"project\.yaml"):
        find_check("fix it", files, reader(files))


@pytest.mark.parametrize(
    ("agents", "command"),
    [
        ("# Dev\n\nRun the tests with `pytest -q tests/`.\n", "pytest -q tests/"),
        ("## Testing\n\n```sh\n$ make test\n```\n", "make test"),
        ("## Style\nUse `black`.\n\n## Checks\n- `npm test`\n", "npm test"),
    ],
)
def test_agents_md_test_instructions_are_read(agents: str, command: str) -> None:
    files = {"AGENTS.md": agents}
    found = find_check("fix it", files, reader(files))
    assert found is not None and found.command == command and found.source == "AGENTS.md"


@pytest.mark.parametrize(
    ("files", "command"),
    [
        ({"src/app.py": "", "tests/test_app.py": ""}, PYTEST),
        ({"calc_test.py": ""}, PYTEST),
        ({"Makefile": "build:\n\tcc x.c\ntest:\n\t./run\n"}, "make test"),
        ({"package.json": '{"scripts": {"test": "jest"}}'}, "npm test"),
        ({"go.mod": "module x"}, "go test ./..."),
    ],
)
def test_a_runner_is_detected_from_the_files(files: dict[str, str], command: str) -> None:
    found = find_check("fix it", files, reader(files))
    assert found is not None and found.command == command


def test_a_project_with_nothing_to_run_has_no_check() -> None:
    files = {"Makefile": "build:\n\tcc x.c\n", "package.json": "{}", "app.py": ""}
    assert find_check("fix it", files, reader(files)) is None


@pytest.mark.parametrize(
    ("task", "wants"),
    [
        ("Fix the off-by-one in pager.py", True),
        ("Rename get_usr to get_user everywhere", True),
        ("What does this project do?", False),
        ("Explain the tests", False),
    ],
)
def test_tasks_that_ask_for_a_change_are_told_apart(task: str, wants: bool) -> None:
    assert asks_for_change(task) is wants


@pytest.mark.parametrize(
    ("task", "command"),
    [
        (
            "The test suite fails: `median` in `stats.py` returns wrong values. Fix the bug in\n"
            "`stats.py` so that `python3 -m pytest -q tests` passes.",
            "python3 -m pytest -q tests",
        ),
        (
            "Implement it in `convert_ckpt.py`. The CLI is already written: `python3 convert_ckpt"
            ".py a.json b.json`. The interface test\n`python3 -m pytest -q tests` must pass.",
            "python3 -m pytest -q tests",
        ),
        (
            "Create a script `summarize.py` that reads a CSV. Run it with\n"
            "`python3 summarize.py sales.csv` and save its output to `summary.txt`.",
            "python3 summarize.py sales.csv",
        ),
    ],
)
def test_a_test_command_in_the_task_wins_over_other_commands_and_file_names(
    task: str, command: str
) -> None:
    found = find_check(task, [], reader({}))
    assert found is not None and found.command == command


def test_a_file_name_in_backticks_is_never_a_check() -> None:
    assert find_check("Fix `stats.py`; check `median` there.", [], reader({})) is None


def test_a_command_the_task_says_to_run_that_is_no_test_runner_is_a_run_not_a_test() -> None:
    task = "Create wordfreq.py. Then run it with `python3 wordfreq.py data/notes.txt`."
    found = find_check(task, {}, reader({}))
    assert found is not None and found.command == "python3 wordfreq.py data/notes.txt"
    assert found.kind == "run"
    tested = find_check("Fix it; run `python3 -m pytest -q` to check.", {}, reader({}))
    assert tested is not None and tested.kind == "test"


@pytest.mark.parametrize(
    ("task", "command"),
    [
        (  # "e.g." does not end the sentence; "Try it" points back at the example
            "The log file stays the first argument, e.g.\n"
            "`python3 top_errors.py app.log --limit 3`. Try it on `app.log`.",
            "python3 top_errors.py app.log --limit 3",
        ),
        (
            "No name `get_usr` may remain, and `python3 main.py` must print the same output.",
            "python3 main.py",
        ),
        ("Check your work by running a small script of your own with `python3`.", None),
        ("Do not run `./deploy.sh prod`; edit config.py only.", None),
    ],
)
def test_a_command_the_task_points_at_is_found_and_a_bare_or_forbidden_one_is_not(
    task: str, command: str | None
) -> None:
    found = find_check(task, {}, reader({}))
    assert (found and found.command) == command
    assert found is None or found.kind == "run"
