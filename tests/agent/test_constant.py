"""A change that leaves a function answering one constant whatever its input is named."""

from __future__ import annotations

import pytest

from agent.tools.constant import ignored_inputs

STUB = 'def to_roman(n):\n    """Roman numeral."""\n    raise NotImplementedError\n'


def test_an_example_answer_returned_for_every_input_is_named() -> None:
    """Seen in the bench (spec_roman): `return 'MCMXCIV'`, the task's example."""
    guarded = "def to_roman(n):\n    if n < 1:\n        raise ValueError\n    return 'MCMXCIV'\n"
    warning = ignored_inputs("roman.py", STUB, guarded)
    assert "to_roman(n) returns 'MCMXCIV' whatever the input" in warning
    hard = "def to_roman(n):\n    return 'MCMXCIV'\n\n\ndef from_roman(s):\n    return 1994\n"
    warning = ignored_inputs("roman.py", STUB, hard)
    assert "to_roman(n) returns 'MCMXCIV'" in warning and "from_roman(s) returns 1994" in warning
    unused = "def pick(a, b):\n    if 1 > 2:\n        return 'x'\n    return 'y'\n"
    assert "pick(a, b) never uses a, b" in ignored_inputs("a.py", None, unused)


@pytest.mark.parametrize(
    ("path", "before", "after"),
    [
        ("a.py", None, "def f(x):\n    return x * 2\n"),  # uses its input
        ("a.py", None, "def f():\n    return 3\n"),  # no input to ignore
        ("a.py", None, "class A:\n    def f(self):\n        return 3\n"),  # self only
        ("a.py", "def f(x):\n    return 3\n", "def f(x):\n    return 3\n\n\ng = 1\n"),  # unchanged
        ("a.py", None, "def f(x):\n    return None\n"),  # no constant answer
        ("a.py", None, "def ok(x):\n    if x < 0:\n        raise ValueError\n    return True\n"),
        ("a.py", None, "def f(x):\n    if x:\n        return 1\n    return 2\n"),  # depends
        ("a.py", None, "def f(x):\n    if x:\n        return 1\n    return x + 1\n"),
        ("a.txt", None, "def f(x):\n    return 3\n"),  # not Python
        ("a.py", None, "def f(x:\n"),  # does not parse: lint's business
    ],
)
def test_nothing_is_said_of_functions_that_do_not_ignore_their_input(
    path: str, before: str | None, after: str
) -> None:
    assert ignored_inputs(path, before, after) == ""
