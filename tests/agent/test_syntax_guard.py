"""A change that would stop a working Python file from parsing is not written; a line break
a small model put inside quotes (its JSON `\\n`) is written back as `\\n` when that, and only
that, makes the file parse. Cases from the bench's `config_env_port` transcript."""

from __future__ import annotations

from agent.testing import FakeSandbox
from agent.tools.base import ToolContext
from agent.tools.edit_file import edit_file
from agent.tools.syntax_guard import guard, parse_error, reescape
from agent.tools.write_file import write_file

SERVER = (
    '"""Tiny status server."""\n\nimport sys\n\n\ndef body():\n    return b"ok\\n"\n\n\n'
    "def main(argv):\n    print(body(), argv)\n"
)
# what the model sent: the `\n` of b"ok\n" arrived as a real line break
BROKEN_ESCAPE = SERVER.replace('b"ok\\n"', "b'ok\n'")
# ... and the docstring's quotes dropped as well
BROKEN_TWICE = BROKEN_ESCAPE.replace('"""Tiny status server."""', "Tiny status server.")


def test_a_line_break_inside_quotes_is_written_as_backslash_n_and_counted() -> None:
    fake = FakeSandbox({"server.py": SERVER})
    out = write_file(
        ToolContext(sandbox=fake, files_read={"server.py"}), "server.py", BROKEN_ESCAPE
    )
    assert not out.is_error
    written = fake.files["server.py"].decode()
    assert parse_error(written) is None and "b'ok\\n'" in written
    assert out.repairs and "line break(s) inside quotes" in out.repairs[-1]
    assert "inside quotes" in out.content


def test_several_breaks_and_f_strings_are_put_back_and_nothing_else_changes() -> None:
    text = 'x = "a\nb\nc"\ny = f"{x}\n"\nz = 1\n'
    fixed, count = reescape(text)
    assert count == 3 and fixed == 'x = "a\\nb\\nc"\ny = f"{x}\\n"\nz = 1\n'
    assert reescape("x = 1\n") == ("x = 1\n", 0)
    assert reescape("def f(:\n") == ("def f(:\n", 0)  # another error: not touched


def test_a_rewrite_that_breaks_a_working_file_is_refused_and_the_file_kept() -> None:
    fake = FakeSandbox({"server.py": SERVER})
    out = write_file(ToolContext(sandbox=fake), "server.py", BROKEN_TWICE)
    assert out.is_error and out.content.startswith("not written")
    assert "line 1" in out.content and "Tiny status server." in out.content
    assert "server.py is unchanged" in out.content
    assert fake.files["server.py"].decode() == SERVER


def test_an_edit_that_breaks_a_working_file_is_refused_with_the_escape_hint() -> None:
    fake = FakeSandbox({"calc.py": "def add(a, b):\n    return a + b\n"})
    ctx = ToolContext(sandbox=fake)
    out = edit_file(ctx, "calc.py", "return a + b", "return (a + b")
    assert out.is_error and "would not parse (line 2" in out.content, out.content
    assert fake.files["calc.py"].decode() == "def add(a, b):\n    return a + b\n"
    out = edit_file(ctx, "calc.py", "return a + b", "print('sum\n')\n    return a + b")
    assert not out.is_error and "print('sum\\n')" in fake.files["calc.py"].decode()


def test_new_files_broken_files_other_languages_and_no_aids_are_written_as_sent() -> None:
    assert guard("new.py", None, "def f(:\n")[2] is None  # new: written, lint warns
    assert guard("old.py", "def f(:\n", "def g(:\n")[2] is None  # already broken
    assert guard("notes.md", "# ok\n", "'a\n'") == ("'a\n'", [], None)
    fake = FakeSandbox({"server.py": SERVER})
    out = write_file(ToolContext(sandbox=fake, aids=False), "server.py", BROKEN_TWICE)
    assert not out.is_error and fake.files["server.py"].decode() == BROKEN_TWICE
