"""What a write or an edit broke in a Python file, told at once.

A small model's most common slip after a correct idea is a change that cannot run: a
missing import (`os.getenv` without `import os`), a name misspelt, an indentation that no
longer parses. The tool result says so right away, with line numbers, instead of the model
finding out (or not) from a failed run several steps later. Only problems the session's
changes added are reported (a file that was already broken is not blamed on the edit): the
file is judged against its text when the session first changed it, so a problem added by one
change and left by the next is told again (bench, config_env_port: a rewrite lost `import
sys` and `import http.server`; the next edit fixed one, and `sys` was never named again).
Only the kinds that make code fail when it runs; style (unused imports, ...) is not the
model's task.
The text is judged by pyflakes on the host: parsed, never run.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import Counter
from collections.abc import Callable, Mapping

from pyflakes import checker, messages

from agent.tools.syntax_guard import parsed

FAILS_AT_RUN_TIME = (
    messages.UndefinedName,
    messages.UndefinedLocal,
    messages.UndefinedExport,
    messages.DuplicateArgument,
    messages.ReturnOutsideFunction,
    messages.YieldOutsideFunction,
    messages.ContinueOutsideLoop,
    messages.BreakOutsideLoop,
    messages.TooManyExpressionsInStarredAssignment,
    messages.TwoStarredExpressions,
)
MAX_SHOWN = 5
UNDEFINED = re.compile(r"undefined name '(\w+)'")


def problems(text: str) -> list[tuple[int, str]]:
    """(line, message) for each problem that makes this Python text fail when it runs."""
    try:
        tree = ast.parse(text)
        found = checker.Checker(tree, filename="<edit>")
    except SyntaxError as exc:
        return [(exc.lineno or 0, f"syntax error: {exc.msg}")]
    except (ValueError, RecursionError, MemoryError) as exc:  # a NUL byte, deep nesting
        return [(0, f"cannot be parsed: {type(exc).__name__}")]
    return sorted(
        (m.lineno, m.message % m.message_args)
        for m in found.messages
        if isinstance(m, FAILS_AT_RUN_TIME)
    )


def new_problems(path: str, before: str | None, after: str) -> list[str]:
    """The problems `after` has that `before` did not (matched by message, not by line,
    since an edit moves lines), as `path:line: message`. Only for Python files."""
    if not path.endswith(".py"):
        return []
    old = Counter(message for _, message in problems(before)) if before is not None else Counter()
    lines = after.splitlines()
    out: list[str] = []
    for line, message in problems(after):
        if old[message] > 0:
            old[message] -= 1
            continue
        out.append(f"{path}:{line}: {message}" + _quoted(lines, line))
    return out


def _quoted(lines: list[str], line: int) -> str:
    """The line itself, to copy into edit_file's `old` (in the bench the model pasted the
    warning text as `old` three times, never the line it named)."""
    if not 1 <= line <= len(lines) or not lines[line - 1].strip():
        return ""
    return f"\n    line {line} is: {lines[line - 1][:200]}"


def _top_level_names(text: str) -> list[str]:
    tree = parsed(text)
    if tree is None:
        return []
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [node.name for node in tree.body if isinstance(node, kinds)]


def lost_names(path: str, before: str | None, after: str) -> list[str]:
    """Top-level functions and classes `before` defined and `after` does not (.py only)."""
    if not path.endswith(".py") or before is None:
        return []
    kept = set(_top_level_names(after))
    return [name for name in _top_level_names(before) if name not in kept]


def lost_definitions(path: str, before: str | None, after: str, whole: bool = True) -> str:
    """The note for a change that dropped functions or classes the file defined (a small
    model rewriting one function often writes only that one; a rename leaves callers
    behind), or "". `whole`: the change was a whole-file write."""
    lost = lost_names(path, before, after)
    if not lost:
        return ""
    names = ", ".join(lost[:10]) + (" ..." if len(lost) > 10 else "")
    advice = (
        "To change one part of a file use edit_file; to undo this, write the file again "
        "with everything it had."
        if whole
        else "If that was meant (a rename), find the code that uses the old name with grep "
        "and update it; if not, put the definition back."
    )
    return (
        f"\nwarning: {path} no longer defines {names} (it did before this change); code "
        f"that uses them will fail. {advice}"
    )


def warning(found: list[str]) -> str:
    """The note the tool result carries, or "" when the change broke nothing we can see."""
    if not found:
        return ""
    shown = "\n".join(f"  {item}" for item in found[:MAX_SHOWN])
    more = f"\n  ... and {len(found) - MAX_SHOWN} more" if len(found) > MAX_SHOWN else ""
    return (
        "\nwarning: the file was written, but it will fail when it runs:\n"
        f"{shown}{more}\nFix this next: edit_file with the line shown as `old`"
        + _how_to_define(found)
        + "."
    )


def _how_to_define(found: list[str]) -> str:
    """What an undefined name needs: an import for a standard module, a value otherwise
    (config_cli_limit: for `LIMIT = N`, with `N` the task's placeholder, the model added
    `import sys` fourteen times, as the advice "add the import" said)."""
    names = sorted({m.group(1) for item in found if (m := UNDEFINED.search(item))})
    if not names:
        return ""
    modules = [n for n in names if n in sys.stdlib_module_names]
    others = [n for n in names if n not in modules]
    parts = [f"add `import {n}`" for n in modules]
    if others:
        listed = ", ".join(f"`{n}`" for n in others)
        one = len(others) == 1
        parts.append(
            f"{listed} {'is not a module' if one else 'are not modules'}: give "
            f"{'it' if one else 'each'} a value before that line, or use a name the file has"
        )
    return " (" + "; ".join(parts) + ")"


def _code(text: str) -> str | None:
    """The file's code without docstrings, comments or layout (None: it does not parse)."""
    tree = parsed(text)
    if tree is None:
        return None
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree)


def same_code(path: str, before: str | None, after: str) -> str:
    """A note when a change to a Python file left its code as it was (seen in the bench:
    fix_median's "fix" re-sent the buggy function without its docstring, three times)."""
    if not path.endswith(".py") or before is None or before == after:
        return ""
    old = _code(before)
    if old is None or old != _code(after):
        return ""
    return (
        f"\nnote: this change leaves the code of {path} as it was (only docstrings, comments "
        "or spacing differ): the program does exactly what it did before. To fix a bug, "
        "change the statements that compute the wrong result."
    )


def left_broken(
    originals: Mapping[str, str | None], read: Callable[[str], str | None]
) -> list[str]:
    """The problems the session's changes added that are still in the files now (`read`:
    a file's text now, None when it is gone), for the finish (bench, spec_roman: finished
    "done" with `roman.py` calling two functions it never defined)."""
    found: list[str] = []
    for path, before in originals.items():
        now = read(path) if path.endswith(".py") else None
        if now is not None:
            found += new_problems(path, before, now)
    return found
