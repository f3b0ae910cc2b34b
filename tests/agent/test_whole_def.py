"""An edit of a `def` line whose `new` is a whole function replaces the whole function."""

from __future__ import annotations

import ast

import pytest

from agent.testing import FakeSandbox
from agent.tools.base import ToolContext
from agent.tools.edit_file import edit_file
from agent.tools.whole_def import drop_old_body

BEFORE = (
    '"""Stats."""\n\n\ndef median(values):\n    """The middle value."""\n'
    "    s = values\n    return s[len(s) // 2]\n\n\ndef mean(values):\n"
    "    return sum(values) / len(values)\n"
)
OLD = "def median(values):"


def edited(new: str) -> tuple[str, str]:
    return drop_old_body("stats.py", OLD, new, BEFORE.replace(OLD, new, 1))


def test_a_whole_new_function_sent_for_its_def_line_replaces_the_old_body() -> None:
    new = "def median(values):\n    s = sorted(values)\n    return s[len(s) // 2]"
    text, note = edited(new)
    assert note == "dropped the old body of median left under the new one"
    assert "s = values" not in text and "def mean(values):" in text
    ast.parse(text)
    assert text.count("return") == 2


@pytest.mark.parametrize(
    "new",
    [
        "def median(values):\n    if not values:\n        raise ValueError('empty')",  # a guard
        "def median(values):\n    values = list(values)",  # a first statement
        "@cache\ndef median(values):",  # a decorator
        "def median(values, key=None):",  # a new parameter
    ],
)
def test_an_edit_that_keeps_the_old_body_reachable_is_left_as_sent(new: str) -> None:
    after = BEFORE.replace(OLD, new, 1)
    assert drop_old_body("stats.py", OLD, new, after) == (after, "")


def test_other_files_and_other_lines_are_left_alone() -> None:
    new = "def median(values):\n    return 0"
    after = BEFORE.replace(OLD, new, 1)
    assert drop_old_body("stats.txt", OLD, new, after) == (after, "")
    assert drop_old_body("stats.py", "s = values", "s = sorted(values)", after)[1] == ""


def test_a_whole_function_resent_as_it_is_is_nothing_changed() -> None:
    """fix_median: the unchanged function sent for its `def` line, then finish, twice."""
    text = "def median(v):\n    return v[len(v) // 2]\n"
    fake = FakeSandbox({"stats.py": text})
    out = edit_file(ToolContext(sandbox=fake), "stats.py", "def median(v):", text.rstrip("\n"))
    assert out.is_error and "nothing changed" in out.content
    assert fake.files["stats.py"].decode() == text
