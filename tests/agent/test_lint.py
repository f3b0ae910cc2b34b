"""A write or an edit that breaks a Python file is told so at once, with line numbers;
problems the file already had are not blamed on the change."""

from __future__ import annotations

from agent.testing import FakeSandbox
from agent.tools.base import ToolContext
from agent.tools.edit_file import edit_file
from agent.tools.lint import new_problems, problems
from agent.tools.write_file import write_file

SERVER = "import sys\n\nPORT = 8080\n\n\ndef main():\n    print(PORT, sys.argv)\n"


def test_an_edit_using_a_module_it_does_not_import_is_warned_with_the_line() -> None:
    fake = FakeSandbox({"server.py": SERVER})
    out = edit_file(
        ToolContext(sandbox=fake), "server.py", "PORT = 8080", "PORT = int(os.getenv('P', 8080))"
    )
    assert not out.is_error
    assert "server.py:3: undefined name 'os'" in out.content
    assert "os.getenv" in fake.files["server.py"].decode()  # written all the same


def test_a_write_that_does_not_parse_is_warned_with_the_line() -> None:
    fake = FakeSandbox()
    out = write_file(ToolContext(sandbox=fake), "calc.py", "def f(:\n    return 1\n")
    assert "calc.py:1: syntax error" in out.content


def test_a_clean_change_carries_no_warning() -> None:
    fake = FakeSandbox({"server.py": SERVER})
    out = edit_file(ToolContext(sandbox=fake), "server.py", "PORT = 8080", "PORT = 9090")
    assert out.content == "edited server.py"


def test_problems_the_file_had_before_are_not_blamed_on_the_edit() -> None:
    before = "def f():\n    return missing\n"
    after = "def f():\n    x = 1\n    return missing\n"
    assert problems(before) == [(2, "undefined name 'missing'")]
    assert new_problems("m.py", before, after) == []
    found = new_problems("m.py", before, after + "y = other\n")
    assert found == ["m.py:4: undefined name 'other'\n    line 4 is: y = other"]


def test_style_and_other_languages_are_not_the_tools_business() -> None:
    assert problems("import os\nimport sys\n") == []  # unused imports: style, not failure
    assert new_problems("notes.md", None, "def f(:") == []


def test_text_that_cannot_be_parsed_at_all_is_a_problem_not_a_crash() -> None:
    assert problems("x = 1\0\n")[0][1].startswith(("syntax error", "cannot be parsed"))
    assert problems("(" * 5000 + ")" * 5000)  # nesting deeper than the parser allows


def test_without_aids_no_warning_is_given() -> None:
    fake = FakeSandbox({"server.py": SERVER})
    ctx = ToolContext(sandbox=fake, aids=False)
    out = edit_file(ctx, "server.py", "PORT = 8080", "PORT = os.getenv('P')")
    assert out.content == "edited server.py"


def test_a_rewrite_that_drops_functions_the_file_defined_is_warned() -> None:
    fake = FakeSandbox(
        {"stats.py": "def mean(xs):\n    return 1\n\n\ndef median(xs):\n    return 2\n"}
    )
    ctx = ToolContext(sandbox=fake)
    refused = write_file(ctx, "stats.py", "def median(xs):\n    return 3\n")
    assert refused.is_error and "would no longer define mean" in refused.content
    assert "def mean" in fake.files["stats.py"].decode()  # not written
    out = write_file(ctx, "stats.py", "def median(xs):\n    return 3\n")  # sent again: applied
    assert "stats.py no longer defines mean (it did before this change)" in out.content
    assert "write the file again with everything it had" in out.content
    kept = write_file(
        ToolContext(sandbox=fake, files_read={"stats.py"}),
        "stats.py",
        "def median(xs):\n    return 4\n\n\ndef extra(): ...",
    )
    assert "no longer defines" not in kept.content


def test_an_edit_that_renames_a_function_points_at_the_callers() -> None:
    fake = FakeSandbox({"store.py": "def get_usr(uid):\n    return uid\n"})
    out = edit_file(ToolContext(sandbox=fake), "store.py", "def get_usr(", "def get_user(")
    assert "store.py no longer defines get_usr" in out.content
    assert "find the code that uses the old name with grep" in out.content


def test_an_edit_that_leaves_the_code_as_it_was_says_so() -> None:
    """Seen in the bench (fix_median): the buggy function re-sent without its docstring."""
    before = 'def median(v):\n    """Middle."""\n    v = v\n    return v[len(v) // 2]\n'
    fake = FakeSandbox({"stats.py": before})
    out = edit_file(
        ToolContext(sandbox=fake),
        "stats.py",
        '    """Middle."""\n    v = v\n',
        "    # the middle value\n    v = v\n",
    )
    assert not out.is_error and "leaves the code of stats.py as it was" in out.content
    fixed = edit_file(ToolContext(sandbox=fake), "stats.py", "    v = v\n", "    v = sorted(v)\n")
    assert "as it was" not in fixed.content


def test_a_problem_an_earlier_change_added_is_told_again_until_it_is_fixed() -> None:
    """Bench, config_env_port: a rewrite lost `import sys` and an import of the server
    classes; the next edit fixed the classes, and `sys` was never named again."""
    fake = FakeSandbox({"server.py": SERVER})
    ctx = ToolContext(sandbox=fake, files_read={"server.py"})
    broken = (
        "import os\n\nPORT = os.getenv('P', 8080)\n\n\ndef main():\n    print(PORT, sys.argv, H)\n"
    )
    first = write_file(ctx, "server.py", broken)
    assert "undefined name 'sys'" in first.content and "undefined name 'H'" in first.content
    second = edit_file(ctx, "server.py", "import os\n", "import os\nH = 1\n")
    assert "undefined name 'H'" not in second.content
    assert "server.py:8: undefined name 'sys'" in second.content  # still broken: said again
    third = edit_file(ctx, "server.py", "import os\n", "import os\nimport sys\n")
    assert "warning" not in third.content
    assert ctx.originals == {"server.py": SERVER}  # judged against the file as first found


def test_a_file_broken_before_the_session_stays_unblamed_after_several_changes() -> None:
    fake = FakeSandbox({"m.py": "def f():\n    return missing\n"})
    ctx = ToolContext(sandbox=fake, files_read={"m.py"})
    edit_file(ctx, "m.py", "def f():\n", "def f():\n    x = 1\n")
    out = edit_file(ctx, "m.py", "x = 1", "x = 2")
    assert "warning" not in out.content


def test_an_undefined_name_is_told_an_import_only_when_it_is_a_module() -> None:
    """config_cli_limit: for `LIMIT = N` the advice "add the import or define it" got
    `import sys` added fourteen times."""
    fake = FakeSandbox({"server.py": SERVER})
    ctx = ToolContext(sandbox=fake, files_read={"server.py"})
    out = edit_file(ctx, "server.py", "PORT = 8080", "PORT = os.getenv('P', N)")
    assert "(add `import os`; `N` is not a module: give it a value before that line" in out.content
    assert "import N" not in out.content
