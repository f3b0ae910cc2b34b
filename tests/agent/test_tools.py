"""Tool schemas come from signatures and docstrings; arguments are repaired when unambiguous."""

from __future__ import annotations

import pytest

from agent.tools import TOOLS
from agent.tools.base import ToolArgumentError, workspace_path


def test_every_tool_has_a_described_schema_without_extra_keys() -> None:
    assert set(TOOLS) == {
        "read_file",
        "write_file",
        "edit_file",
        "rename_symbol",
        "list_files",
        "grep",
        "run",
        "finish",
    }
    for tool in TOOLS.values():
        function = tool.schema()["function"]
        assert function["description"]
        params = function["parameters"]
        assert params["additionalProperties"] is False
        assert all(prop.get("description") for prop in params["properties"].values())


def test_a_multi_line_argument_description_is_kept_whole() -> None:
    old = TOOLS["edit_file"].schema()["function"]["parameters"]["properties"]["old"]
    assert old["description"].endswith("it must occur exactly once")


@pytest.mark.parametrize(
    ("tool", "given", "expected"),
    [
        ("read_file", {"file_path": "a.py"}, {"path": "a.py"}),
        ("write_file", {"filename": "a.py", "contents": "x"}, {"path": "a.py", "content": "x"}),
        ("run", {"cmd": "ls"}, {"command": "ls"}),
        ("list_files", {"path": ".", "pattern": "*.py"}, {"path": ".", "glob": "*.py"}),
        ("list_files", {"path": ".", "glob": None, "recursive": None}, {"path": ".", "glob": None}),
        ("finish", {"message": "done"}, {"summary": "done"}),
    ],
)
def test_unambiguous_argument_slips_are_repaired_and_counted(
    tool: str, given: dict[str, object], expected: dict[str, object]
) -> None:
    fixed, repairs = TOOLS[tool].repair(given)
    assert fixed == expected
    assert repairs


def test_an_alias_is_not_applied_when_the_tool_has_that_key_or_the_target_is_given() -> None:
    fixed, repairs = TOOLS["grep"].repair({"pattern": "TODO", "glob": "*.py"})
    assert fixed == {"pattern": "TODO", "glob": "*.py"} and repairs == []
    fixed, _ = TOOLS["read_file"].repair({"path": "a.py", "file": "b.py"})
    with pytest.raises(ToolArgumentError, match="file"):
        TOOLS["read_file"].parse(fixed)


def test_wrong_types_are_an_error_for_the_model_not_a_crash() -> None:
    with pytest.raises(ToolArgumentError, match="start_line"):
        TOOLS["read_file"].parse({"path": "a.py", "start_line": "first"})


@pytest.mark.parametrize(
    ("raw", "rel"),
    [
        ("a.py", "a.py"),
        ("./src/a.py", "src/a.py"),
        ("/workspace/src/a.py", "src/a.py"),
        ("/workspace", "."),
        ("src/../a.py", "a.py"),
        ("", "."),
    ],
)
def test_workspace_paths_are_normalised(raw: str, rel: str) -> None:
    assert workspace_path(raw) == rel


@pytest.mark.parametrize("raw", ["/etc/passwd", "../outside", "src/../../x", "/workspacex/a"])
def test_paths_outside_the_workspace_are_the_models_to_fix(raw: str) -> None:
    with pytest.raises(ToolArgumentError):
        workspace_path(raw)
