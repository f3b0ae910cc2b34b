"""A change that would stop a Python file from parsing is not written.

Measured on the embedded 1.5B model (bench `config_env_port`): a whole-file rewrite of a
working `server.py` turned `b"ok\\n"` into `b'ok` + a real line break + `'` (the model wrote
`\\n` in its JSON, which is a line break, where the file needs a backslash) and dropped a
docstring's quotes; the file no longer parsed, and the model never got it back. So:

- a line break inside a one-line string literal is put back as `\\n` when that, and only
  that, makes the text parse (a one-line literal cannot hold a raw line break, so no other
  reading exists); it is counted as a repair;
- otherwise, a change that turns a file that parses into one that does not is refused,
  naming the line, and the file stays as it was. A new file, or one that did not parse
  before, is written as asked (`agent.tools.lint` warns about it).
"""

from __future__ import annotations

import ast

MAX_REESCAPES = 50
UNTERMINATED = "unterminated string literal"


UNPARSABLE = (SyntaxError, ValueError, RecursionError, MemoryError)  # a NUL byte, deep nesting


def parsed(text: str) -> ast.Module | None:
    """The text's syntax tree, or None when it does not parse."""
    try:
        return ast.parse(text)
    except UNPARSABLE:
        return None


def parse_error(text: str) -> tuple[int, str] | None:
    """(line, message) of the first reason `text` does not parse, or None."""
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return exc.lineno or 0, exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:  # a NUL byte, deep nesting
        return 0, f"cannot be parsed: {type(exc).__name__}"
    return None


def _reescape_all(text: str) -> tuple[str, int, tuple[int, str] | None]:
    """`text` with each raw line break that ends a one-line string literal early written
    as `\\n`, how many, and the first error left (None: it parses)."""
    fixed, count = text, 0
    error = parse_error(fixed)
    while error is not None and count < MAX_REESCAPES:
        line, message = error
        lines = fixed.split("\n")
        if not message.startswith(UNTERMINATED) or not 0 < line < len(lines):
            break
        lines[line - 1 : line + 1] = [lines[line - 1] + "\\n" + lines[line]]
        fixed, count = "\n".join(lines), count + 1
        error = parse_error(fixed)
    return fixed, count, error


def reescape(text: str) -> tuple[str, int]:
    """The re-escaped text and how many breaks were put back; `text` and 0 unless the
    result parses."""
    fixed, count, error = _reescape_all(text)
    return (fixed, count) if error is None and count else (text, 0)


def _excerpt(text: str, line: int) -> str:
    lines = text.split("\n")
    start, end = max(line - 2, 0), min(line + 1, len(lines))
    return "\n".join(f"  {n + 1:4d}| {lines[n]}" for n in range(start, end))


def guard(path: str, before: str | None, after: str) -> tuple[str, list[str], str | None]:
    """(text to write, repairs, refusal). With a refusal, nothing is written."""
    if not path.endswith(".py"):
        return after, [], None
    if parse_error(after) is None:
        return after, [], None
    fixed, count, error = _reescape_all(after)
    if error is None:
        note = "(a one-line string cannot hold one)"
        return fixed, [f"wrote {count} line break(s) inside quotes as \\n {note}"], None
    if before is None or parse_error(before) is not None:
        return after, [], None
    line, message = error  # the first error that is not a line break inside quotes
    hint = (
        f" Also, {count} line break(s) inside quotes: to put \\n in a Python string, "
        "write \\\\n in the JSON."
        if count
        else ""
    )
    refusal = (
        f"not written: with this change {path} would not parse (line {line}: {message}):\n"
        f"{_excerpt(fixed, line)}\n{path} is unchanged.{hint} Fix that and send the change "
        "again; to change one part of a file, use edit_file."
    )
    return after, [], refusal


def quoted_breaks(text: str) -> tuple[str, int]:
    """`text` (a piece of Python, e.g. edit_file's `old`, that need not parse on its own)
    with each raw line break inside a one-line string literal written as `\\n`, and how
    many. The file holds `print(f'{w}\\n')` as written; the model's `old`, sent through JSON,
    holds a real line break there and can never match it (create_wordfreq, to the end)."""
    out: list[str] = []
    quote, i, count = "", 0, 0
    while i < len(text):
        char = text[i]
        if not quote:
            if char == "#":  # a comment runs to the end of its line
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                out.append(text[i:end])
                i = end
                continue
            triple = text[i : i + 3]
            if triple in ('"""', "'''"):  # a docstring may hold line breaks: kept
                end = text.find(triple, i + 3)
                end = len(text) if end < 0 else end + 3
                out.append(text[i:end])
                i = end
                continue
            quote = char if char in "'\"" else ""
        elif char == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        elif char == quote:
            quote = ""
        elif char == "\n":
            out.append("\\n")
            count += 1
            i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out), count
