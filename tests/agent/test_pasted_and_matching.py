"""Tool input a small model gets wrong: pasted read_file framing and inexact `old` text."""

from __future__ import annotations

import pytest

from agent.testing import FakeSandbox
from agent.tools.base import ToolContext
from agent.tools.edit_file import edit_file
from agent.tools.matching import replace_once
from agent.tools.pasted import header, unpaste

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.mark.parametrize(
    "pasted",
    [
        "\n".join(f"{n:5}| {line}" for n, line in enumerate(CODE.split("\n")[:-1], 1)) + "\n",
        "\n".join(f"{n}| {line}".rstrip() for n, line in enumerate(CODE.split("\n")[:-1], 1))
        + "\n",
        header("calc.py", 1, 6, 6) + "\n" + CODE,
        "calc.py lines 1-6 of 6:\n"
        + "\n".join(f"{n:5}| {line}" for n, line in enumerate(CODE.split("\n")[:-1], 1))
        + "\n",
        "<tool_response>\n" + header("calc.py", 1, 6, 6) + "\n" + CODE + "</tool_response>\n",
        "\n".join(f"{n}\t{line}" for n, line in enumerate(CODE.split("\n")[:-1], 1)) + "\n",
    ],
)
def test_pasted_read_file_framing_is_removed_and_named(pasted: str) -> None:
    text, repairs = unpaste(pasted)
    assert text.rstrip("\n").split("\n") == [
        ln.rstrip() for ln in CODE.rstrip("\n").split("\n")
    ] or (text == CODE)
    assert repairs


@pytest.mark.parametrize(
    "content",
    [
        CODE,
        "1| not a gutter: one numbered line only\n",
        "1: a\n2: b\n3: c\n",  # a YAML mapping with numbers as keys
        "3| c\n2| b\n1| a\n",  # numbers that do not count up
        "id|name\n1|alice\n2|bob\n",  # pipe-separated data
        "10 | x\nplain line\n",
    ],
)
def test_text_without_pasted_framing_is_left_exactly_as_it_is(content: str) -> None:
    assert unpaste(content) == (content, [])


def test_an_exact_unique_old_is_replaced() -> None:
    found = replace_once(CODE, "return a - b", "return a - b  # sub", "calc.py")
    assert found.after == CODE.replace("return a - b", "return a - b  # sub")
    assert not found.repair and not found.error


def test_old_with_wrong_indentation_matches_once_and_new_is_reindented() -> None:
    found = replace_once(
        CODE, "def sub(a, b):\nreturn a - b", "def sub(a, b):\nreturn b - a", "c.py"
    )
    assert found.error == ""
    assert "def sub(a, b):\n    return b - a" in found.after
    assert "whitespace" in found.repair


def test_old_matching_twice_ignoring_whitespace_is_refused_with_the_lines() -> None:
    text = "if x:\n    go()\nif y:\n  go()\n"
    found = replace_once(text, "go()\n", "stop()\n", "a.py")
    assert found.after == "" and "2 times" in found.error


def test_old_not_found_answers_with_the_closest_lines_and_their_numbers() -> None:
    found = replace_once(CODE, "def sub(a, b):\n    return a + b - 0", "x", "calc.py")
    assert found.after == ""
    assert "closest match, lines" in found.error and "    5| def sub(a, b):" in found.error


def test_old_with_nothing_close_says_to_read_the_file() -> None:
    found = replace_once(CODE, "class Totally:\n    unrelated = True", "x", "calc.py")
    assert "read_file it" in found.error and "closest" not in found.error


def test_code_to_add_sent_as_old_is_told_to_anchor_on_the_line_most_like_it() -> None:
    """config_cli_limit: the model sent the argparse line it wanted as `old`, five times,
    and was told each time only to copy the exact lines."""
    text = "import sys\n\nLIMIT = int(sys.argv[2])\n\n\ndef main(path):\n    print(path)\n"
    wanted = 'parser.add_argument("--limit", default="10")\nargs = parser.parse_args()'
    found = replace_once(text, wanted, "x", "top.py")
    assert "None of its lines is in top.py: `old` must be text the file already has" in found.error
    assert found.error.endswith("line most like yours is 3:\n    3| LIMIT = int(sys.argv[2])")
    more = "\nparser = argparse.ArgumentParser(description='errors')\n" + wanted
    partly = replace_once(text, "import sys" + more, "x", "top.py")
    assert "It is not text of the file" in partly.error  # one line is there: not "none"


def test_old_with_two_lines_joined_into_one_matches_the_original_lines() -> None:
    text = "A small project.\nIts tests are in\ntest_calc.py.\n"
    found = replace_once(text, "Its tests are in test_calc.py.", "Tests: test_calc.py.", "R.md")
    assert found.after == "A small project.\nTests: test_calc.py.\n"
    assert "line breaks" in found.repair


@pytest.mark.parametrize(
    "report",
    [
        "calc.py:5: syntax error: closing parenthesis '}' does not match opening parenthesis '('",
        'File "/workspace/calc.py", line 5, in <module>',
    ],
)
def test_a_problem_report_pasted_as_old_is_answered_with_the_line_it_names(report: str) -> None:
    found = replace_once(CODE, report, report, "calc.py")
    assert found.after == ""
    assert "is a problem report" in found.error and "    5| def sub(a, b):" in found.error


WORDFREQ = "def main():\n    for word, count in top:\n        print(f'{word} {count}'}\n\nmain()\n"


def test_an_old_ending_its_line_does_not_match_a_line_that_goes_on() -> None:
    """From a bench transcript: `old` was the broken line without its last character and
    with a line break; matching it mid-line left the `}` and indented the line further on
    every retry (8, 16, 24, 48 spaces)."""
    found = replace_once(
        WORDFREQ, "        print(f'{word} {count}'\n", "        print(f'{word} {count}')", "w.py"
    )
    assert found.after == ""
    assert "    3|         print(f'{word} {count}'}" in found.error  # the line to copy


def test_a_whole_line_matched_ignoring_spacing_keeps_the_files_indentation() -> None:
    text = "def f():\n    total = compute(a,\n        b)\n    return total\n"
    for indent in ("", "  ", "        "):
        found = replace_once(
            text, f"{indent}total = compute(a, b)\n", f"{indent}total = a + b", "f.py"
        )
        assert found.after == "def f():\n    total = a + b\n    return total\n", indent
        assert "line breaks" in found.repair


def test_a_mid_line_match_ignoring_spacing_replaces_only_that_span() -> None:
    text = "x = call(first,\n         second) + 1\n"
    found = replace_once(text, "call(first, second)", " call(first, third) ", "x.py")
    assert found.after == "x = call(first, third) + 1\n"


MEDIAN = (
    "def median(values):\n"
    '    """Middle value.\n\n    ValueError on an empty list.\n    """\n'
    "    if not values:\n"
    "        raise ValueError('empty')\n"
    "    middle = len(values) // 2\n"
    "    return values[middle]\n"
)


def test_an_old_that_left_out_a_docstring_applies_and_keeps_the_docstring() -> None:
    """Seen in the bench (fix_median): the model's `old` skipped the docstring, four times."""
    old = "def median(values):\n    if not values:\n        raise ValueError('empty')\n"
    new = (
        "def median(values):\n    if not values:\n        raise ValueError('empty')\n"
        "    values = sorted(values)\n"
    )
    found = replace_once(MEDIAN, old, new, "stats.py")
    assert not found.error and "left out" in found.repair
    assert found.after == MEDIAN.replace(
        "        raise ValueError('empty')\n",
        "        raise ValueError('empty')\n    values = sorted(values)\n",
    )


def test_an_old_with_left_out_lines_is_refused_when_new_drops_the_line_they_followed() -> None:
    old = "def median(values):\n    if not values:\n        raise ValueError('empty')\n"
    new = "def median2(values):\n    if not values:\n        raise ValueError('empty')\n"
    found = replace_once(MEDIAN, old, new, "stats.py")
    assert found.error and "closest match" in found.error


def test_left_out_lines_must_be_few_and_the_place_unique() -> None:
    far = "def f():\n" + "    x = 1\n" * 20 + "    return x\n\ndef g():\n    return x\n"
    found = replace_once(
        far, "def f():\n    x = 1\n    return x\n", "def f():\n    return 2\n", "a.py"
    )
    assert found.error  # 19 lines left out: not taken for the same text
    twice = "a = 1\n# one\nb = 2\nc = 3\na = 1\n# two\nb = 2\nc = 3\n"
    found = replace_once(twice, "a = 1\nb = 2\nc = 3\n", "a = 1\nb = 5\nc = 3\n", "a.py")
    assert found.error  # two places fit: nothing applied


def test_a_json_backspace_meant_as_a_regex_word_boundary_is_written_as_backslash_b() -> None:
    """create_wordfreq: `r'\\b[a-z]+\\b'` sent in JSON arrived as two backspaces; the regex
    matched nothing and the script printed nothing."""
    fixed, repairs = unpaste("words = re.findall(r'\x08[a-z]+\x08', text)\nx = '\x0c'\n")
    assert fixed == "words = re.findall(r'\\b[a-z]+\\b', text)\nx = '\\f'\n"
    assert repairs == [
        "wrote 2 backspace character(s) as \\b",
        "wrote 1 form feed character(s) as \\f",
    ]
    assert unpaste("plain\ttext\n") == ("plain\ttext\n", [])


def test_an_old_with_a_line_break_where_the_file_has_backslash_n_matches_as_the_file_has_it() -> (
    None
):
    """create_wordfreq: the file held `print(f'{word} {count}\\n')`; the model's `old`,
    through JSON, held a real line break there, never matched, and the run timed out."""
    script = (
        "def main(words):\n    for word, count in words:\n        print(f'{word} {count}\\n')\n"
    )
    fake = FakeSandbox({"wordfreq.py": script})
    ctx = ToolContext(sandbox=fake, files_read={"wordfreq.py"})
    old = "        print(f'{word} {count}\n')"  # a real line break inside the quotes
    out = edit_file(ctx, "wordfreq.py", old, "        print(f'{word} {count}')  # it's one")
    assert not out.is_error, out.content
    assert fake.files["wordfreq.py"].decode().endswith("print(f'{word} {count}')  # it's one\n")
    assert "read 1 line break(s) inside quotes as \\n" in out.content
    other = FakeSandbox({"w.md": "a\\nb\n"})  # not Python: left to the usual answer
    missed = edit_file(ToolContext(sandbox=other, files_read={"w.md"}), "w.md", "a\nb", "c")
    assert missed.is_error
