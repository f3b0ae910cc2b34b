"""Unambiguous repairs of small-model tool-call JSON, and refusal of everything else."""

from __future__ import annotations

import pytest

from agent.repair import ArgumentsError, parse_arguments
from agent.textcalls import parse


@pytest.mark.parametrize(
    ("raw", "expected", "repaired"),
    [
        ('{"path": "a.py"}', {"path": "a.py"}, False),
        ('{"path": "a.py"} I will now read the file.', {"path": "a.py"}, True),
        ('```json\n{"path": "a.py"}\n```', {"path": "a.py"}, True),
        ('"{\\"path\\": \\"a.py\\"}"', {"path": "a.py"}, True),
        ("", {}, True),
    ],
)
def test_arguments_are_repaired_only_when_unambiguous(
    raw: str, expected: dict[str, str], repaired: bool
) -> None:
    value, repairs = parse_arguments(raw)
    assert value == expected
    assert bool(repairs) is repaired


@pytest.mark.parametrize("raw", ["{path: a.py}", "[1, 2]", '"just text"', "{'path': 'a.py'}", "42"])
def test_arguments_that_are_not_an_object_are_refused(raw: str) -> None:
    with pytest.raises(ArgumentsError):
        parse_arguments(raw)


def test_a_tagged_text_call_is_read() -> None:
    calls = parse(
        'Sure.\n<tool_call>\n{"name": "run", "arguments": {"command": "ls"}}\n</tool_call>'
    )
    assert [(c.name, c.arguments) for c in calls] == [("run", '{"command": "ls"}')]


def test_a_fenced_json_call_like_small_qwen_writes_is_read() -> None:
    text = (
        'I will write it.\n```json\n{"name": "write_file", '
        '"arguments": {"path": "a.py", "content": "x"}}\n```'
    )
    calls = parse(text)
    assert calls[0].name == "write_file"


def test_prose_and_objects_without_a_name_are_not_calls() -> None:
    assert parse("All done, the file prints hello.") == []
    assert parse('```json\n{"path": "a.py"}\n```') == []
    assert parse('<tool_call>{"name": 5, "arguments": {}}</tool_call>') == []


def test_several_tagged_calls_are_read_in_order() -> None:
    text = (
        '<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>'
        '<tool_call>{"name": "read_file", "arguments": {"path": "b"}}</tool_call>'
    )
    assert [c.arguments for c in parse(text)] == ['{"path": "a"}', '{"path": "b"}']
