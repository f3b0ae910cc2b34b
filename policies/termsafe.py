"""Untrusted text made safe to show on a terminal: the one escaping step every renderer uses.

File contents, command output, diffs, model text and policy reasons reach the person's
terminal. A raw ESC, C1 or `\\r` in them could retitle the window, clear the screen or
overwrite a line with a fake `policy: ALLOW`; a bidi override could make text read in an
order other than the bytes. So every character that is not printable (str.isprintable:
C0 and C1 controls, DEL, bidi overrides and isolates, zero-width and other format
characters, line/paragraph separators, private use, unassigned) is shown in Python
string-literal notation: `\\x1b`, `\\r`, `\\x9b`, `\\u202e`, `\\U000e0041`. Newlines and
tabs are kept where the field may span lines (`keep`).

`strict=True` (what a person approves) also escapes every non-ASCII character, so that a
Cyrillic `а` in a command shows as `\\u0430`. The TUI highlights the escapes
(`tui/escape.py`); the headless CLI prints them as they are.

This lives in `policies` because `rempart policy explain` prints project policy text
(reasons, rule ids) too, and `policies` imports nothing else of ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
# Candidates only (everything outside printable ASCII); `_unsafe` decides per character.
_CANDIDATE = re.compile(r"[^\x20-\x7e]+")


def notation(char: str) -> str:
    """The escape shown for one character: `\\r`, `\\x1b`, `\\u202e`, `\\U000e0041`."""
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _unsafe(char: str, keep: str, strict: bool) -> bool:
    if char in keep:
        return False
    return strict or not char.isprintable()


def pieces(text: str, keep: str = "\n\t", strict: bool = False) -> Iterator[tuple[str, bool]]:
    """`text` as (chunk, is_escape) pairs, for renderers that highlight escapes."""
    start = 0  # where the plain text not yet yielded begins
    for match in _CANDIDATE.finditer(text):
        for offset, char in enumerate(match.group()):
            if _unsafe(char, keep, strict):
                at = match.start() + offset
                if at > start:
                    yield text[start:at], False
                yield notation(char), True
                start = at + 1
    if start < len(text):
        yield text[start:], False


def safe(text: str, keep: str = "\n\t", strict: bool = False) -> str:
    """`text` with every character a terminal could act on shown as an escape."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(chunk for chunk, _ in pieces(text, keep, strict))


def safe_line(text: str) -> str:
    """A field that must stay on one line (a rule id, a reason, a tool name)."""
    return safe(text, keep="")


# Characters JSON does not require escaping but a terminal (or a reader) may act on.
_JSON_RAW = re.compile(
    "[\\x7f-\\x9f\\u00ad\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ufff9-\\ufffb]"
)


def json_safe(line: str) -> str:
    """A JSON text with C1, bidi and zero-width characters as `\\uXXXX` (the same data)."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
